"""The LLM chat: a streamed turn (Server-Sent Events), the turn history, saved messages."""

from __future__ import annotations

from uuid import UUID

from quart import Blueprint, Response, ResponseReturnValue, current_app
from quart_schema import document_response, validate_request

from assessment_async.http.auth import bearer_hash, require_session
from assessment_async.http.openapi import document_chat_stream, document_errors
from assessment_async.infra.db import get_db
from assessment_async.infra.llm_client import LLMClient, SlotTimeout, WorkerBusy
from assessment_async.services import chat, chat_turns
from assessment_core.admission import worker_busy
from assessment_core.chat import (
    TurnInProgress,
    TurnRateLimited,
    llm_busy,
    message_body,
    too_many_turns,
    turn_in_progress,
)
from assessment_core.models import ChatIn, MessageIn, MessageOut, TurnOut
from assessment_core.settings import Settings

bp = Blueprint("chat", __name__, url_prefix="/api/sessions/<uuid:sid>")


@bp.post("/chat")
@document_chat_stream
@document_errors(429)
@validate_request(ChatIn)
async def create_conversation_turn(sid: UUID, data: ChatIn) -> ResponseReturnValue:
    """Send a message; the answer streams back as `token` events, then `done` or `error`."""
    token_hash = bearer_hash()
    settings: Settings = current_app.extensions["settings"]
    client: LLMClient = current_app.extensions["llm"]
    try:
        events = await chat_turns.open_turn(client, get_db(),
                                            current_app.extensions["background"], settings,
                                            sid, token_hash, data.message)
    except WorkerBusy:
        raise worker_busy() from None
    except SlotTimeout:
        raise llm_busy() from None
    except TurnInProgress:
        raise turn_in_progress() from None
    except TurnRateLimited as limited:
        raise too_many_turns(settings.chat_turns_per_minute, limited.retry_after) from None
    response = Response(events, mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.timeout = None  # the turn cap bounds the stream, not Quart's 60 s default
    return response


@bp.get("/chat/turns")
@document_response(list[TurnOut])
async def list_turns(sid: UUID) -> ResponseReturnValue:
    """Every turn of the session, oldest first, with what each side said and how it ended."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await chat.select_turns(conn, sid)
    return [dict(row) for row in rows]


@bp.post("/messages")
@validate_request(MessageIn)
@document_response(MessageOut, 201)
async def save_message(sid: UUID, data: MessageIn) -> ResponseReturnValue:
    """Save one message of the conversation as the frontend saw it."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        row = await chat.insert_message(conn, sid, data.role, data.content, data.metadata)
    return message_body(row), 201
