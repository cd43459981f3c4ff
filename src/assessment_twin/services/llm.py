"""LLMConversationService: conversation turns and saved messages, sync."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from assessment_core.chat import TurnInProgress, TurnRateLimited
from assessment_twin.db import transaction


class LLMConversationService:
    engine: Engine

    @classmethod
    def recent_turns(cls, session_id: UUID, limit: int) -> list[dict[str, Any]]:
        with transaction(cls.engine) as conn:
            rows = conn.execute(text("""
                SELECT turn_number, user_message, ai_message FROM chat_turns
                 WHERE session_id = :sid AND status IN ('complete', 'partial')
                 ORDER BY turn_number DESC LIMIT :n"""),
                {"sid": session_id, "n": limit}).mappings().all()
        return [dict(r) for r in reversed(rows)]

    @classmethod
    def create_conversation_turn(
        cls, session_id: UUID, user_message: str, model: str, stale_after: float,
        turns_per_minute: int = 0,
    ) -> dict[str, Any]:
        """Store the user's message as a new `streaming` turn with the next number; the same
        stale-turn cleanup and per-minute limit as the ASGI app's services/chat.py."""
        try:
            with transaction(cls.engine) as conn:
                conn.execute(text("""
                    UPDATE chat_turns
                       SET status = CASE WHEN coalesce(ai_message, '') = '' THEN 'failed'
                                         ELSE 'partial' END,
                           error_code = 'INTERRUPTED', completed_at = now()
                     WHERE status = 'streaming' AND session_id = :sid
                       AND created_at < now() - make_interval(secs => :stale)"""),
                    {"sid": session_id, "stale": stale_after})
                if turns_per_minute:
                    wait = conn.execute(text("""
                        SELECT extract(epoch FROM created_at + interval '60 seconds' - now())
                               ::float8
                          FROM chat_turns
                         WHERE session_id = :sid AND created_at > now() - interval '60 seconds'
                         ORDER BY created_at DESC OFFSET :n - 1 LIMIT 1"""),
                        {"sid": session_id, "n": turns_per_minute}).scalar()
                    if wait is not None:
                        raise TurnRateLimited(wait)
                row = conn.execute(text("""
                    INSERT INTO chat_turns (id, session_id, turn_number, user_message, status,
                                            model)
                    SELECT :id, :sid, coalesce(max(turn_number), 0) + 1, :msg, 'streaming', :m
                      FROM chat_turns WHERE session_id = :sid
                    RETURNING id, turn_number, created_at"""),
                    {"id": uuid.uuid4(), "sid": session_id, "msg": user_message, "m": model},
                ).mappings().one()
        except IntegrityError:
            raise TurnInProgress from None
        return dict(row)

    @classmethod
    def finish_turn(cls, turn_id: UUID, ai_message: str, status: str, error_code: str | None,
                    completion_tokens: int | None) -> None:
        with transaction(cls.engine) as conn:
            conn.execute(text("""
                UPDATE chat_turns SET ai_message = :ai, status = :status, error_code = :code,
                       completion_tokens = :tokens, completed_at = now()
                 WHERE id = :id"""),
                {"id": turn_id, "ai": ai_message, "status": status, "code": error_code,
                 "tokens": completion_tokens})

    @classmethod
    def list_turns(cls, session_id: UUID) -> list[dict[str, Any]]:
        with transaction(cls.engine) as conn:
            rows = conn.execute(text("""
                SELECT turn_number, user_message, ai_message, status, error_code, created_at,
                       completed_at
                  FROM chat_turns WHERE session_id = :sid ORDER BY turn_number"""),
                {"sid": session_id}).mappings().all()
        return [dict(r) for r in rows]

    @classmethod
    def save_message(cls, session_id: UUID, message_data: dict[str, Any]) -> dict[str, Any]:
        with transaction(cls.engine) as conn:
            row = conn.execute(text("""
                INSERT INTO chat_messages (id, session_id, role, content, metadata)
                VALUES (:id, :sid, :role, :content, CAST(:metadata AS jsonb))
                RETURNING id, role, created_at"""),
                {"id": uuid.uuid4(), "sid": session_id, "role": message_data["role"],
                 "content": message_data["content"],
                 "metadata": json.dumps(message_data.get("metadata") or {})}).mappings().one()
        return dict(row)
