"""The LLM chat: a streamed turn (Server-Sent Events), the turn history, saved messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from quart import Blueprint, Response, ResponseReturnValue, current_app
from quart_schema import document_response, validate_request

from assessment_async.http.auth import bearer_hash, require_session
from assessment_async.http.openapi import document_chat_stream, document_errors
from assessment_async.infra.db import Database, database_unavailable, get_db
from assessment_async.infra.llm_client import LLMClient, SlotTimeout
from assessment_async.services import chat
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
from assessment_core.models import ChatIn, MessageIn, MessageOut, TurnOut
from assessment_core.settings import Settings
from assessment_core.tokens import check_owner

log = logging.getLogger(__name__)

bp = Blueprint("chat", __name__, url_prefix="/api/sessions/<uuid:sid>")

# A turn still `streaming` this long after the turn cap was cut off by a dead server.
STALE_MARGIN_SECONDS = 60
# How long the end of a turn keeps retrying an unreachable database before the turn is
# reported not saved (a restart is back within seconds); an unsaved turn blocks the session's
# next chat until it goes stale. A busy pool is waited for up to DB_POOL_TIMEOUT per attempt.
SAVE_RETRY_SECONDS = 15.0


def settings() -> Settings:
    value: Settings = current_app.extensions["settings"]
    return value


def llm() -> LLMClient:
    client: LLMClient = current_app.extensions["llm"]
    return client


def outlive_cancellation(
    work: Coroutine[Any, Any, bool], pending: set[asyncio.Task[Any]]
) -> asyncio.Task[bool]:
    """Run `work` as its own task, kept in `pending` until done, so a disconnect cannot cut
    it short and the app's shutdown waits for it."""
    task = asyncio.ensure_future(work)
    pending.add(task)
    task.add_done_callback(pending.discard)
    return task


@bp.post("/chat")
@document_chat_stream
@document_errors(429)
@validate_request(ChatIn)
async def create_conversation_turn(sid: UUID, data: ChatIn) -> ResponseReturnValue:
    """Send a message; the answer streams back as `token` events, then `done` or `error`."""
    token_hash = bearer_hash()
    config, client = settings(), llm()
    try:
        await client.acquire_slot()
    except SlotTimeout:
        raise llm_busy() from None
    try:
        async with get_db().connection() as conn:
            owner, history = await chat.select_owner_and_history(conn, token_hash, sid,
                                                                 config.llm_history_turns)
            check_owner(owner, sid)
            turn = await chat.insert_turn(conn, sid, data.message, config.llm_model,
                                          config.llm_turn_timeout + STALE_MARGIN_SECONDS,
                                          config.chat_turns_per_minute)
    except TurnInProgress:
        client.release_slot()
        raise turn_in_progress() from None
    except TurnRateLimited as limited:
        client.release_slot()
        raise too_many_turns(config.chat_turns_per_minute, limited.retry_after) from None
    except BaseException:
        client.release_slot()
        raise
    messages = build_prompt(config.llm_system_prompt, history, data.message)
    # The body runs after this handler returns, outside the app context: pass what it needs.
    turn_store = TurnStore(get_db(), turn["id"], current_app.extensions["background"])
    response = Response(relay(client, turn_store, turn["turn_number"], messages),
                        mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.timeout = None  # the turn cap bounds the stream, not Quart's 60 s default
    return response


@dataclass
class TurnStore:
    """Where and how a turn's end is written, even after its client has gone."""

    db: Database
    turn_id: UUID
    background: set[asyncio.Task[Any]]

    async def save(self, parts: list[str], status: str, error_code: str | None,
                   result: StreamResult) -> bool:
        """Write the turn's end in its own task; False (logged) when the database refused."""
        return await asyncio.shield(outlive_cancellation(
            self._write(parts, status, error_code, result), self.background))

    async def _write(self, parts: list[str], status: str, error_code: str | None,
                     result: StreamResult) -> bool:
        # A database restarting mid-stream is back within seconds: wait for it, rather than
        # leave the turn `streaming`, which refuses the session's next chat for minutes.
        deadline = asyncio.get_running_loop().time() + SAVE_RETRY_SECONDS
        while True:
            try:
                async with self.db.connection() as conn:
                    await chat.finish_turn(conn, self.turn_id, "".join(parts), status,
                                           error_code, result.completion_tokens)
                return True
            except Exception as error:
                if not database_unavailable(error) or asyncio.get_running_loop().time() > deadline:
                    log.exception("could not store the end of turn %s", self.turn_id)
                    return False
            await asyncio.sleep(0.25)


async def relay(
    client: LLMClient, turn: TurnStore, turn_number: int, messages: list[dict[str, str]],
) -> AsyncIterator[bytes]:
    """Relay upstream deltas as `token` events; store the turn before the final event."""
    parts: list[str] = []
    result = StreamResult()
    failure: UpstreamError | None = None
    ended = False
    try:
        async with aclosing(client.stream_chat(messages, result)) as deltas:
            async for batch in deltas:
                parts.extend(batch)
                # One event per delta, as the upstream sent them; one write for the batch.
                yield b"".join(sse("token", {"delta": delta}) for delta in batch)
        ended = True
    except UpstreamError as error:
        # Kept without its traceback and the exception it replaced: their frames (this one,
        # stream_chat's) hold the error itself, and the cycle would leave a failed turn's
        # objects to a full garbage collection (tests/test_garbage.py).
        failure = error.with_traceback(None)
        failure.__context__ = None
    except BaseException:  # the client went away: CancelledError or GeneratorExit
        await turn.save(parts, outcome(bool(parts), False), "CLIENT_DISCONNECTED", result)
        raise
    finally:
        client.release_slot()

    status = outcome(bool(parts), ended)
    saved = await turn.save(parts, status, failure.code if failure else None, result)
    if not saved:
        yield not_saved_event(turn_number)
    elif failure is not None:
        yield error_event(turn_number, status, failure)
    else:
        yield done_event(turn_number, status, result)


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
