"""Chat turns and saved messages: every statement the chat routes run.

The streamed turn itself (slot, relay, the store of its end) is services/chat_turns.py.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

import asyncpg
from asyncpg import Record

from assessment_async.infra.db import Connection, execute, fetch, fetchone, fetchrow, fetchval
from assessment_core.chat import TurnInProgress, TurnRateLimited, owner_and_history
from assessment_core.sql import SQL


async def insert_turn(
    conn: Connection, session_id: UUID, user_message: str, model: str, stale_after: float,
    turns_per_minute: int = 0,
) -> Record:
    """Store the user's message as a new `streaming` turn with the next number.

    A turn left `streaming` longer than `stale_after` seconds (its server died) is closed as
    partial or failed when it is in the way, so it cannot block the session. Raises
    TurnInProgress when a turn is streaming, or when a racing chat took the number first;
    TurnRateLimited when the session started `turns_per_minute` turns in the last minute
    (0: no limit).
    """
    if turns_per_minute:
        wait = await fetchval(conn, SQL.seconds_until_turn_allowed, session_id=session_id,
                              turns_per_minute=turns_per_minute)
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
    if not await close_stale_turns(conn, stale_after, session_id):
        raise TurnInProgress
    try:
        return await _insert_streaming_turn(conn, session_id, user_message, model)
    except asyncpg.UniqueViolationError:
        raise TurnInProgress from None


async def _insert_streaming_turn(conn: Connection, session_id: UUID, user_message: str,
                                 model: str) -> Record:
    row = await fetchone(conn, SQL.insert_streaming_turn, id=uuid.uuid4(),
                         session_id=session_id, user_message=user_message, model=model)
    return row


async def close_stale_turns(conn: Connection, stale_after: float,
                            session_id: UUID | None = None) -> int:
    """Close turns a dead server left `streaming`; how many were closed."""
    return await execute(conn, SQL.close_stale_turns, stale_after=stale_after,
                         session_id=session_id)


async def select_owner_and_history(
    conn: Connection, token_hash: bytes, session_id: UUID, limit: int,
) -> tuple[UUID | None, list[Record]]:
    """The session the token opens (None: none), and, when it is `session_id`, its last
    `limit` finished turns that said something, oldest first: a chat's two reads in one
    round trip."""
    rows = await fetch(conn, SQL.select_owner_and_history, token_hash=token_hash,
                       session_id=session_id, history_turns=limit)
    owner, history = owner_and_history(rows)
    return owner, history


async def finish_turn(
    conn: Connection, turn_id: UUID, ai_message: str, status: str, error_code: str | None,
    completion_tokens: int | None,
) -> Record | None:
    return await fetchrow(conn, SQL.finish_turn, turn_id=turn_id, ai_message=ai_message,
                          status=status, error_code=error_code,
                          completion_tokens=completion_tokens)


async def select_turns(conn: Connection, session_id: UUID) -> list[Record]:
    return await fetch(conn, SQL.select_turns, session_id=session_id)


async def insert_message(
    conn: Connection, session_id: UUID, role: str, content: str, metadata: dict[str, Any],
) -> Record:
    row = await fetchone(conn, SQL.insert_message, id=uuid.uuid4(), session_id=session_id,
                         role=role, content=content, metadata=json.dumps(metadata))
    return row
