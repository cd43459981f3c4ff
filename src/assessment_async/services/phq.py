"""Questionnaire answers and submitted assessments (PHQ-9, and any instrument defined as data).

One-answer saves, the product's hottest path (nine per questionnaire), go through
services/answer_writer.py, which writes the saves that arrive together in one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from asyncpg import Record

from assessment_async.infra.db import Connection, execute, fetch, fetchone, fetchrow
from assessment_core.instruments import Instrument
from assessment_core.questionnaire import assessment_values
from assessment_core.sql import SQL


async def select_responses(conn: Connection, session_id: UUID, instrument: str) -> list[Record]:
    return await fetch(conn, SQL.select_responses, session_id=session_id, instrument=instrument)


async def select_assessment(conn: Connection, session_id: UUID,
                            instrument: str) -> Record | None:
    return await fetchrow(conn, SQL.select_assessment, session_id=session_id,
                          instrument=instrument)


async def submit_assessment(
    conn: Connection, session_id: UUID, instrument: Instrument, answers: Mapping[int, int],
) -> tuple[Record, bool]:
    """Save `answers`, score everything saved, store the assessment; (row, created).

    A session's submissions are serialised by locking its row, so two racing submits give one
    assessment. Raises IncompleteAnswers (nothing saved) when scored items are missing. When
    an assessment exists it is returned unchanged with created=False.
    """
    async with conn.transaction():
        await execute(conn, SQL.lock_session, session_id=session_id)
        existing = await select_assessment(conn, session_id, instrument.key)
        if existing is not None:
            return existing, False
        if answers:
            await execute(conn, SQL.upsert_submitted_responses, session_id=session_id,
                          instrument=instrument.key, question_ids=list(answers),
                          answers=list(answers.values()))
        saved = {r["question_id"]: r["answer"]
                 for r in await select_responses(conn, session_id, instrument.key)}
        row = await fetchone(conn, SQL.insert_assessment,
                             **assessment_values(instrument, session_id, saved))
        return row, True
