"""The LLM chat: a streamed turn (Server-Sent Events from a generator), turns, messages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, Response, current_app

from assessment_core.chat import (
    TurnInProgress,
    TurnRateLimited,
    message_body,
    too_many_turns,
    turn_in_progress,
)
from assessment_core.models import ChatIn, MessageIn
from assessment_core.settings import Settings
from assessment_twin import phase2
from assessment_twin.http import bearer_hash, json_body, require_session
from assessment_twin.llm_client import SyncLLMClient
from assessment_twin.phase2 import call
from assessment_twin.services import chat_turns
from assessment_twin.services.llm import LLMConversationService

bp = Blueprint("chat", __name__, url_prefix="/api/sessions/<uuid:sid>")


@bp.post("/chat")
def create_conversation_turn(sid: UUID) -> Response:
    data = json_body(ChatIn)
    token_hash = bearer_hash()
    settings: Settings = current_app.config["SETTINGS"]
    client: SyncLLMClient = current_app.extensions["llm"]
    try:
        events = chat_turns.open_turn(client, settings, sid, token_hash, data.message)
    except TurnInProgress:
        raise turn_in_progress() from None
    except TurnRateLimited as limited:
        raise too_many_turns(settings.chat_turns_per_minute, limited.retry_after) from None
    return Response(events, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


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
