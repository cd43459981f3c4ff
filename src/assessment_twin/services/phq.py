"""PHQResponseService: the seed's update_response and save_session_responses, sync."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from assessment_core.instruments import INSTRUMENTS
from assessment_core.scoring import score
from assessment_twin.db import transaction

UPSERT_RESPONSE = text("""
INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
SELECT s.id, :instrument, :question_id, :answer, now()
  FROM sessions s
 WHERE s.id = :session_id AND s.token_hash = :token_hash
   AND NOT EXISTS (SELECT 1 FROM assessments a
                    WHERE a.session_id = s.id AND a.instrument = :instrument)
ON CONFLICT (session_id, instrument, question_id)
DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at
RETURNING question_id, answer, updated_at
""")

ASSESSMENT_COLUMNS = (
    "id, instrument, total_score, severity, flagged, difficulty, answers, submitted_at"
)


class PHQResponseService:
    engine: Engine

    @classmethod
    def update_response(
        cls, session_id: UUID, question_id: int, updates: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Save one answer in one statement; None when the token does not open the session or
        the questionnaire was submitted. `updates`: answer, token_hash, instrument."""
        with transaction(cls.engine) as conn:
            row = conn.execute(UPSERT_RESPONSE, {
                "session_id": session_id, "token_hash": updates["token_hash"],
                "instrument": updates["instrument"], "question_id": question_id,
                "answer": updates["answer"]}).mappings().first()
        return dict(row) if row is not None else None

    @classmethod
    def get_responses(cls, session_id: UUID, instrument: str) -> list[dict[str, Any]]:
        with transaction(cls.engine) as conn:
            rows = conn.execute(text(
                "SELECT question_id, answer, updated_at FROM responses "
                "WHERE session_id = :sid AND instrument = :i ORDER BY question_id"),
                {"sid": session_id, "i": instrument}).mappings().all()
        return [dict(r) for r in rows]

    @classmethod
    def get_assessment(cls, session_id: UUID, instrument: str) -> dict[str, Any] | None:
        with transaction(cls.engine) as conn:
            row = conn.execute(text(
                f"SELECT {ASSESSMENT_COLUMNS} FROM assessments "
                "WHERE session_id = :sid AND instrument = :i"),
                {"sid": session_id, "i": instrument}).mappings().first()
        return dict(row) if row is not None else None

    @classmethod
    def save_session_responses(
        cls, session_id: UUID, responses_data: list[dict[str, Any]], instrument: str = "phq9",
    ) -> tuple[dict[str, Any], bool]:
        """Save the answers, score everything saved, store the assessment; (row, created).

        Raises IncompleteAnswers (nothing saved) when scored items are missing."""
        definition = INSTRUMENTS[instrument]
        with transaction(cls.engine) as conn:
            conn.execute(text("SELECT 1 FROM sessions WHERE id = :sid FOR UPDATE"),
                         {"sid": session_id})
            existing = conn.execute(text(
                f"SELECT {ASSESSMENT_COLUMNS} FROM assessments "
                "WHERE session_id = :sid AND instrument = :i"),
                {"sid": session_id, "i": instrument}).mappings().first()
            if existing is not None:
                return dict(existing), False
            if responses_data:
                conn.execute(text("""
                    INSERT INTO responses (session_id, instrument, question_id, answer, updated_at)
                    SELECT :sid, :i, q, a, now()
                      FROM unnest(CAST(:qs AS smallint[]), CAST(:answers AS smallint[])) AS t(q, a)
                    ON CONFLICT (session_id, instrument, question_id)
                    DO UPDATE SET answer = EXCLUDED.answer, updated_at = EXCLUDED.updated_at"""),
                    {"sid": session_id, "i": instrument,
                     "qs": [r["question_id"] for r in responses_data],
                     "answers": [r["answer"] for r in responses_data]})
            saved = {r["question_id"]: r["answer"] for r in conn.execute(text(
                "SELECT question_id, answer FROM responses "
                "WHERE session_id = :sid AND instrument = :i"),
                {"sid": session_id, "i": instrument}).mappings()}
            result = score(definition, saved)
            row = conn.execute(text(f"""
                INSERT INTO assessments (id, session_id, instrument, total_score, severity,
                                         flagged, difficulty, answers)
                VALUES (:id, :sid, :i, :total, :severity, :flagged, :difficulty,
                        CAST(:answers AS jsonb))
                RETURNING {ASSESSMENT_COLUMNS}"""),
                {"id": uuid.uuid4(), "sid": session_id, "i": instrument, "total": result.total,
                 "severity": result.severity, "flagged": result.flagged,
                 "difficulty": result.difficulty,
                 "answers": json.dumps({str(k): v for k, v in sorted(saved.items())})},
            ).mappings().one()
        return dict(row), True
