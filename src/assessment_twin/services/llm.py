"""LLMConversationService: conversation turns and saved messages, sync."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from assessment_core.chat import TurnInProgress, TurnRateLimited, owner_and_history
from assessment_core.sql import SQL
from assessment_core.tokens import check_owner
from assessment_twin.db import execute, fetch, fetchone, fetchrow, fetchval, single, transaction


class LLMConversationService:
    engine: Engine

    @classmethod
    def recent_turns(cls, session_id: UUID, limit: int) -> list[dict[str, Any]]:
        with single(cls.engine) as conn:
            rows = fetch(conn, SQL.select_recent_turns, session_id=session_id,
                         history_turns=limit)
        return list(reversed(rows))

    @classmethod
    def create_conversation_turn(
        cls, session_id: UUID, user_message: str, model: str, stale_after: float,
        turns_per_minute: int = 0,
    ) -> dict[str, Any]:
        """Store the user's message as a new `streaming` turn with the next number, in one
        transaction: a stale turn of the session closed first, then the per-minute limit
        (TurnRateLimited), then the insert (TurnInProgress when a turn still streams)."""
        try:
            with transaction(cls.engine) as conn:
                execute(conn, SQL.close_stale_turns, stale_after=stale_after,
                        session_id=session_id)
                if turns_per_minute:
                    wait = fetchval(conn, SQL.seconds_until_turn_allowed, session_id=session_id,
                                    turns_per_minute=turns_per_minute)
                    if wait is not None:
                        raise TurnRateLimited(wait)
                row = fetchone(conn, SQL.insert_streaming_turn, id=uuid.uuid4(),
                               session_id=session_id, user_message=user_message, model=model)
        except IntegrityError:
            raise TurnInProgress from None
        return row

    @classmethod
    def open_turn(cls, session_id: UUID, token_hash: bytes, user_message: str, model: str,
                  stale_after: float, turns_per_minute: int, history_turns: int,
                  ) -> tuple[list[Mapping[str, Any]], dict[str, Any]]:
        """The ASGI app's chat start (TWIN_LEAN_CHAT, in autocommit): the owner and the
        history in one statement, the turn in one more, the stale turn and the per-minute
        limit only when they are in the way. (history, turn); the token's APIError,
        TurnInProgress or TurnRateLimited."""
        with single(cls.engine) as conn:
            owner, history = owner_and_history(fetch(
                conn, SQL.select_owner_and_history, token_hash=token_hash,
                session_id=session_id, history_turns=history_turns))
            check_owner(owner, session_id)
            if turns_per_minute:
                wait = fetchval(conn, SQL.seconds_until_turn_allowed, session_id=session_id,
                                turns_per_minute=turns_per_minute)
                if wait is not None:
                    raise TurnRateLimited(wait)
            values = {"session_id": session_id, "user_message": user_message, "model": model}
            try:
                return history, fetchone(conn, SQL.insert_streaming_turn,
                                               id=uuid.uuid4(), **values)
            except IntegrityError:
                pass  # a turn is streaming, or a racing chat took the number
            if not execute(conn, SQL.close_stale_turns, stale_after=stale_after,
                           session_id=session_id):
                raise TurnInProgress
            try:
                return history, fetchone(conn, SQL.insert_streaming_turn,
                                               id=uuid.uuid4(), **values)
            except IntegrityError:
                raise TurnInProgress from None

    @classmethod
    def finish_turn(cls, turn_id: UUID, ai_message: str, status: str, error_code: str | None,
                    completion_tokens: int | None) -> None:
        with single(cls.engine) as conn:
            fetchrow(conn, SQL.finish_turn, turn_id=turn_id, ai_message=ai_message,
                     status=status, error_code=error_code, completion_tokens=completion_tokens)

    @classmethod
    def list_turns(cls, session_id: UUID) -> list[dict[str, Any]]:
        with single(cls.engine) as conn:
            return fetch(conn, SQL.select_turns, session_id=session_id)

    @classmethod
    def save_message(cls, session_id: UUID, message_data: dict[str, Any]) -> dict[str, Any]:
        with single(cls.engine) as conn:
            row = fetchone(conn, SQL.insert_message, id=uuid.uuid4(), session_id=session_id,
                           role=message_data["role"], content=message_data["content"],
                           metadata=json.dumps(message_data.get("metadata") or {}))
        return row
