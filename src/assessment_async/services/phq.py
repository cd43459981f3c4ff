"""Questionnaire answers and submitted assessments (PHQ-9, and any instrument defined as data).

`upsert_response` is the product's hottest path (nine per questionnaire): one statement that
authenticates, refuses edits after submission and upserts, in one round trip.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from uuid import UUID

import asyncpg

from assessment_async.infra.db import Connection
from assessment_core.instruments import Instrument
from assessment_core.scoring import score

UPSERT_RESPONSE = """
INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
SELECT s.id, $3, $4, $5, now()
  FROM sessions s
 WHERE s.id = $1 AND s.token_hash = $2
   AND NOT EXISTS (SELECT 1 FROM assessments a WHERE a.session_id = s.id AND a.instrument = $3)
ON CONFLICT (session_id, instrument, question_id)
DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at
RETURNING question_id, answer, updated_at
"""

ASSESSMENT_COLUMNS = (
    "id, instrument, total_score, severity, flagged, difficulty, answers, submitted_at"
)


async def upsert_response(
    conn: Connection, session_id: UUID, token_hash: bytes, instrument: str,
    question_id: int, answer: int,
) -> asyncpg.Record | None:
    """Save one answer; None when the token does not open the session or it was submitted."""
    return await conn.fetchrow(UPSERT_RESPONSE, session_id, token_hash, instrument,
                               question_id, answer)


async def select_responses(
    conn: Connection, session_id: UUID, instrument: str
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT question_id, answer, updated_at FROM responses "
        "WHERE session_id = $1 AND instrument = $2 ORDER BY question_id",
        session_id, instrument,
    )


async def select_assessment(
    conn: Connection, session_id: UUID, instrument: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE session_id = $1 AND instrument = $2",
        session_id, instrument,
    )


async def submit_assessment(
    conn: Connection, session_id: UUID, instrument: Instrument, answers: Mapping[int, int],
) -> tuple[asyncpg.Record, bool]:
    """Save `answers`, score everything saved, store the assessment; (row, created).

    A session's submissions are serialised by locking its row, so two racing submits give one
    assessment. Raises IncompleteAnswers (nothing saved) when scored items are missing. When
    an assessment exists it is returned unchanged with created=False.
    """
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", session_id)
        existing = await select_assessment(conn, session_id, instrument.key)
        if existing is not None:
            return existing, False
        if answers:
            await conn.execute(
                """
                INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
                SELECT $1, $2, q, a, now() FROM unnest($3::smallint[], $4::smallint[]) AS t(q, a)
                ON CONFLICT (session_id, instrument, question_id)
                DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at
                """,
                session_id, instrument.key, list(answers), list(answers.values()),
            )
        saved = {r["question_id"]: r["answer"]
                 for r in await select_responses(conn, session_id, instrument.key)}
        result = score(instrument, saved)
        row = await conn.fetchrow(
            f"""
            INSERT INTO assessments (id, session_id, instrument, total_score, severity, flagged,
                                     difficulty, answers)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
            RETURNING {ASSESSMENT_COLUMNS}
            """,
            uuid.uuid4(), session_id, instrument.key, result.total, result.severity,
            result.flagged, result.difficulty, json.dumps({str(k): v for k, v in saved.items()}),
        )
        return row, True
