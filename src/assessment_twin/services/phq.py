"""PHQResponseService: the seed's update_response and save_session_responses, sync."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from assessment_core.instruments import INSTRUMENTS
from assessment_core.questionnaire import assessment_values
from assessment_core.sql import SQL
from assessment_twin.db import execute, fetch, fetchone, fetchrow, single, transaction


class PHQResponseService:
    engine: Engine

    @classmethod
    def update_response(
        cls, session_id: UUID, question_id: int, updates: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Save one answer in one statement; None when the token does not open the session or
        the questionnaire was submitted. `updates`: answer, token_hash, instrument."""
        with single(cls.engine) as conn:
            return fetchrow(conn, SQL.upsert_response, session_id=session_id,
                            token_hash=updates["token_hash"], instrument=updates["instrument"],
                            question_id=question_id, answer=updates["answer"])

    @classmethod
    def get_responses(cls, session_id: UUID, instrument: str) -> list[dict[str, Any]]:
        with single(cls.engine) as conn:
            return fetch(conn, SQL.select_responses, session_id=session_id,
                         instrument=instrument)

    @classmethod
    def get_assessment(cls, session_id: UUID, instrument: str) -> dict[str, Any] | None:
        with single(cls.engine) as conn:
            return fetchrow(conn, SQL.select_assessment, session_id=session_id,
                            instrument=instrument)

    @classmethod
    def save_session_responses(
        cls, session_id: UUID, responses_data: list[dict[str, Any]], instrument: str = "phq9",
    ) -> tuple[dict[str, Any], bool]:
        """Save the answers, score everything saved, store the assessment; (row, created).

        Raises IncompleteAnswers (nothing saved) when scored items are missing."""
        definition = INSTRUMENTS[instrument]
        with transaction(cls.engine) as conn:
            execute(conn, SQL.lock_session, session_id=session_id)
            existing = fetchrow(conn, SQL.select_assessment, session_id=session_id,
                                instrument=instrument)
            if existing is not None:
                return existing, False
            if responses_data:
                execute(conn, SQL.upsert_submitted_responses, session_id=session_id,
                        instrument=instrument,
                        question_ids=[r["question_id"] for r in responses_data],
                        answers=[r["answer"] for r in responses_data])
            saved = {r["question_id"]: r["answer"] for r in fetch(
                conn, SQL.select_responses, session_id=session_id, instrument=instrument)}
            row = fetchone(conn, SQL.insert_assessment,
                           **assessment_values(definition, session_id, saved))
        return row, True
