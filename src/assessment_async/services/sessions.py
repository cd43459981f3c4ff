"""Sessions: create one, find the session a token opens, summarise one."""

from __future__ import annotations

import uuid
from uuid import UUID

import asyncpg

from assessment_async.infra.db import Connection


async def insert_session(
    conn: Connection, token_hash: bytes, participant_ref: str | None
) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO sessions (id, token_hash, participant_ref) VALUES ($1, $2, $3) "
        "RETURNING id, created_at",
        uuid.uuid4(), token_hash, participant_ref,
    )


async def select_session_id_by_token(conn: Connection, token_hash: bytes) -> UUID | None:
    session_id: UUID | None = await conn.fetchval(
        "SELECT id FROM sessions WHERE token_hash = $1", token_hash
    )
    return session_id


async def select_summary(conn: Connection, session_id: UUID, instrument: str) -> asyncpg.Record:
    """One row: the session, how many answers it saved, and its assessment if submitted."""
    return await conn.fetchrow(
        """
        SELECT s.id, s.participant_ref, s.created_at,
               (SELECT count(*) FROM responses r
                 WHERE r.session_id = s.id AND r.instrument = $2) AS answered,
               a.id AS assessment_id, a.flagged
          FROM sessions s
          LEFT JOIN assessments a ON a.session_id = s.id AND a.instrument = $2
         WHERE s.id = $1
        """,
        session_id, instrument,
    )
