"""Sessions: create one, find the session a token opens, summarise one."""

from __future__ import annotations

import uuid
from uuid import UUID

from asyncpg import Record

from assessment_async.infra.db import Connection, fetch, fetchone, fetchval
from assessment_core.instruments import INSTRUMENTS
from assessment_core.sql import SQL


async def insert_session(conn: Connection, token_hash: bytes,
                         participant_ref: str | None) -> Record:
    row = await fetchone(conn, SQL.insert_session, id=uuid.uuid4(), token_hash=token_hash,
                         participant_ref=participant_ref)
    return row


async def select_session_id_by_token(conn: Connection, token_hash: bytes) -> UUID | None:
    session_id: UUID | None = await fetchval(conn, SQL.select_session_id_by_token,
                                             token_hash=token_hash)
    return session_id


async def select_summary(conn: Connection, session_id: UUID) -> list[Record]:
    """One row per instrument: the session (checked to exist), how many answers it saved to
    the instrument, and the instrument's assessment if submitted."""
    return await fetch(conn, SQL.select_summary, session_id=session_id,
                       instruments=list(INSTRUMENTS))
