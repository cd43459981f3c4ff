"""Chat turns and saved messages: every statement the chat routes run."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

import asyncpg

from assessment_async.infra.db import Connection
from assessment_core.chat import TurnInProgress, TurnRateLimited


async def insert_turn(
    conn: Connection, session_id: UUID, user_message: str, model: str, stale_after: float,
    turns_per_minute: int = 0,
) -> asyncpg.Record:
    """Store the user's message as a new `streaming` turn with the next number.

    A turn left `streaming` longer than `stale_after` seconds (its server died) is closed as
    partial or failed when it is in the way, so it cannot block the session. Raises
    TurnInProgress when a turn is streaming, or when a racing chat took the number first;
    TurnRateLimited when the session started `turns_per_minute` turns in the last minute
    (0: no limit).
    """
    if turns_per_minute:
        wait = await seconds_until_turn_allowed(conn, session_id, turns_per_minute)
        if wait is not None:
            raise TurnRateLimited(wait)
    # No transaction: each statement is atomic, and the unique index on a session's one
    # `streaming` turn settles every race. The common case is one round trip.
    try:
        return await _insert_streaming_turn(conn, session_id, user_message, model)
    except asyncpg.UniqueViolationError:
        pass
    # A turn is streaming, or a racing chat took the number. If that turn is stale (its
    # server died), close it and try once more.
    if await close_stale_turns(conn, stale_after, session_id) == "UPDATE 0":
        raise TurnInProgress
    try:
        return await _insert_streaming_turn(conn, session_id, user_message, model)
    except asyncpg.UniqueViolationError:
        raise TurnInProgress from None


async def _insert_streaming_turn(
    conn: Connection, session_id: UUID, user_message: str, model: str,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO chat_turns (id, session_id, turn_number, user_message, status, model)
        SELECT $1, $2, coalesce(max(turn_number), 0) + 1, $3, 'streaming', $4
          FROM chat_turns WHERE session_id = $2
        RETURNING id, turn_number, created_at
        """,
        uuid.uuid4(), session_id, user_message, model,
    )


async def seconds_until_turn_allowed(
    conn: Connection, session_id: UUID, turns_per_minute: int,
) -> float | None:
    """None when a turn may start now; else when the oldest turn that fills the minute's
    quota leaves the window. Racing chats cannot both pass: one streaming turn per session."""
    return await conn.fetchval(
        """
        SELECT extract(epoch FROM created_at + interval '60 seconds' - now())::float8
          FROM chat_turns
         WHERE session_id = $1 AND created_at > now() - interval '60 seconds'
         ORDER BY created_at DESC OFFSET $2 - 1 LIMIT 1
        """,
        session_id, turns_per_minute,
    )


async def close_stale_turns(
    conn: Connection, stale_after: float, session_id: UUID | None = None,
) -> str:
    return await conn.execute(
        """
        UPDATE chat_turns
           SET status = CASE WHEN coalesce(ai_message, '') = '' THEN 'failed' ELSE 'partial' END,
               error_code = 'INTERRUPTED', completed_at = now()
         WHERE status = 'streaming' AND created_at < now() - make_interval(secs => $1)
           AND ($2::uuid IS NULL OR session_id = $2)
        """,
        stale_after, session_id,
    )


async def select_owner_and_history(
    conn: Connection, token_hash: bytes, session_id: UUID, limit: int,
) -> tuple[UUID | None, list[asyncpg.Record]]:
    """The session the token opens (None: none), and, when it is `session_id`, its last
    `limit` finished turns that said something, oldest first: a chat's two reads in one
    round trip."""
    rows = await conn.fetch(
        """
        SELECT s.id AS owner, t.turn_number, t.user_message, t.ai_message
          FROM sessions s
          LEFT JOIN LATERAL (
                SELECT turn_number, user_message, ai_message FROM chat_turns
                 WHERE session_id = s.id AND s.id = $2 AND status IN ('complete', 'partial')
                 ORDER BY turn_number DESC LIMIT $3) t ON true
         WHERE s.token_hash = $1
        """,
        token_hash, session_id, limit,
    )
    if not rows:
        return None, []
    return rows[0]["owner"], [r for r in reversed(rows) if r["turn_number"] is not None]


async def finish_turn(
    conn: Connection, turn_id: UUID, ai_message: str, status: str, error_code: str | None,
    completion_tokens: int | None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        UPDATE chat_turns SET ai_message = $2, status = $3, error_code = $4,
               completion_tokens = $5, completed_at = now()
         WHERE id = $1
        RETURNING turn_number, status, completed_at
        """,
        turn_id, ai_message, status, error_code, completion_tokens,
    )


async def select_turns(conn: Connection, session_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT turn_number, user_message, ai_message, status, error_code, created_at,
               completed_at
          FROM chat_turns WHERE session_id = $1 ORDER BY turn_number
        """,
        session_id,
    )


async def insert_message(
    conn: Connection, session_id: UUID, role: str, content: str, metadata: dict[str, Any],
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO chat_messages (id, session_id, role, content, metadata)
        VALUES ($1, $2, $3, $4, $5::jsonb)
        RETURNING id, role, created_at
        """,
        uuid.uuid4(), session_id, role, content, json.dumps(metadata),
    )
