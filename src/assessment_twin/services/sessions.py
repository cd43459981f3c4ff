"""Sessions: create one, find the session a token opens, summarise one."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text

from assessment_twin.db import transaction


class SessionService:
    engine: Engine

    @classmethod
    def create_session(cls, token_hash: bytes, participant_ref: str | None) -> dict[str, Any]:
        with transaction(cls.engine) as conn:
            row = conn.execute(text(
                "INSERT INTO sessions (id, token_hash, participant_ref) "
                "VALUES (:id, :token_hash, :ref) RETURNING id, created_at"),
                {"id": uuid.uuid4(), "token_hash": token_hash, "ref": participant_ref},
            ).mappings().one()
        return dict(row)

    @classmethod
    def session_for_token(cls, token_hash: bytes) -> UUID | None:
        with transaction(cls.engine) as conn:
            owner: UUID | None = conn.execute(
                text("SELECT id FROM sessions WHERE token_hash = :h"), {"h": token_hash}
            ).scalar()
        return owner

    @classmethod
    def summary(cls, session_id: UUID, instrument: str) -> dict[str, Any]:
        with transaction(cls.engine) as conn:
            row = conn.execute(text("""
                SELECT s.id, s.participant_ref, s.created_at,
                       (SELECT count(*) FROM responses r
                         WHERE r.session_id = s.id AND r.instrument = :i) AS answered,
                       a.id AS assessment_id, a.flagged
                  FROM sessions s
                  LEFT JOIN assessments a ON a.session_id = s.id AND a.instrument = :i
                 WHERE s.id = :sid"""), {"sid": session_id, "i": instrument}).mappings().one()
        return dict(row)
