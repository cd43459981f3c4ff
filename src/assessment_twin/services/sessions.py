"""Sessions: create one, find the session a token opens, summarise one."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from assessment_core.instruments import INSTRUMENTS
from assessment_core.sql import SQL
from assessment_twin.db import fetch, fetchone, fetchval, single


class SessionService:
    engine: Engine

    @classmethod
    def create_session(cls, token_hash: bytes, participant_ref: str | None) -> dict[str, Any]:
        with single(cls.engine) as conn:
            row = fetchone(conn, SQL.insert_session, id=uuid.uuid4(), token_hash=token_hash,
                           participant_ref=participant_ref)
        return row

    @classmethod
    def session_for_token(cls, token_hash: bytes) -> UUID | None:
        with single(cls.engine) as conn:
            owner: UUID | None = fetchval(conn, SQL.select_session_id_by_token,
                                          token_hash=token_hash)
        return owner

    @classmethod
    def summary(cls, session_id: UUID) -> list[dict[str, Any]]:
        """One row per instrument (SQL.select_summary)."""
        with single(cls.engine) as conn:
            return fetch(conn, SQL.select_summary, session_id=session_id,
                         instruments=list(INSTRUMENTS))

    @classmethod
    def ping(cls) -> None:
        with cls.engine.connect() as conn:
            fetchval(conn, SQL.ping)
