"""The LLM chat: a streamed turn (Server-Sent Events from a generator), turns, messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from uuid import UUID

from flask import Blueprint, Response, current_app

from assessment_core.chat import (
    StreamResult,
    TurnInProgress,
    TurnRateLimited,
    UpstreamError,
    build_prompt,
    done_event,
    error_event,
    llm_busy,
    message_body,
    not_saved_event,
    outcome,
    sse,
    too_many_turns,
    turn_in_progress,
)
from assessment_core.models import ChatIn, MessageIn
from assessment_core.settings import Settings
from assessment_twin import phase2
from assessment_twin.http import bearer_hash, json_body, require_session
from assessment_twin.llm_client import SyncLLMClient
from assessment_twin.routes import call
from assessment_twin.services.llm import LLMConversationService

log = logging.getLogger(__name__)
bp = Blueprint("chat", __name__, url_prefix="/api/sessions/<uuid:sid>")

STALE_MARGIN_SECONDS = 60


@bp.post("/chat")
def create_conversation_turn(sid: UUID) -> Response:
    data = json_body(ChatIn)
    token_hash = bearer_hash()
    settings: Settings = current_app.config["SETTINGS"]
    client: SyncLLMClient = current_app.extensions["llm"]
    if not client.slots.acquire(timeout=settings.llm_slot_timeout):
        raise llm_busy()
    try:
        require_session(sid, token_hash)
        history = LLMConversationService.recent_turns(sid, settings.llm_history_turns)
        turn = call(LLMConversationService.create_conversation_turn,
                    phase2.create_conversation_turn_async, sid, data.message, settings.llm_model,
                    settings.llm_turn_timeout + STALE_MARGIN_SECONDS,
                    settings.chat_turns_per_minute)
    except TurnInProgress:
        client.slots.release()
        raise turn_in_progress() from None
    except TurnRateLimited as limited:
        client.slots.release()
        raise too_many_turns(settings.chat_turns_per_minute, limited.retry_after) from None
    except BaseException:
        client.slots.release()
        raise
    messages = build_prompt(settings.llm_system_prompt, history, data.message)
    return Response(relay(client, turn["id"], turn["turn_number"], messages),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def relay(client: SyncLLMClient, turn_id: UUID, turn_number: int,
          messages: list[dict[str, str]]) -> Iterator[bytes]:
    """Relay upstream deltas as `token` events; store the turn before the final event."""
    parts: list[str] = []
    result = StreamResult()
    failure: UpstreamError | None = None
    ended = False
    deltas = client.stream_chat(messages, result)
    try:
        for delta in deltas:
            parts.append(delta)
            yield sse("token", {"delta": delta})
        ended = True
    except UpstreamError as error:
        failure = error
    except GeneratorExit:  # the server closed us: the client went away
        deltas.close()
        store(turn_id, parts, outcome(bool(parts), False), "CLIENT_DISCONNECTED", result)
        raise
    finally:
        client.slots.release()
    status = outcome(bool(parts), ended)
    if not store(turn_id, parts, status, failure.code if failure else None, result):
        yield not_saved_event(turn_number)
    elif failure is not None:
        yield error_event(turn_number, status, failure)
    else:
        yield done_event(turn_number, status, result)


def store(turn_id: UUID, parts: list[str], status: str, error_code: str | None,
          result: StreamResult) -> bool:
    try:
        LLMConversationService.finish_turn(turn_id, "".join(parts), status, error_code,
                                           result.completion_tokens)
    except Exception:
        log.exception("could not store the end of turn %s", turn_id)
        return False
    return True


@bp.get("/chat/turns")
def list_turns(sid: UUID) -> Any:
    require_session(sid, bearer_hash())
    return LLMConversationService.list_turns(sid)


@bp.post("/messages")
def save_message(sid: UUID) -> Any:
    data = json_body(MessageIn)
    require_session(sid, bearer_hash())
    row = call(LLMConversationService.save_message, phase2.save_message_async, sid,
               data.model_dump())
    return message_body(row), 201
