"""A streamed chat turn: its upstream slot, its row, the relay of the answer as Server-Sent
Events, and the store of its end, which outlives the client and waits out a database restart.

`open_turn` returns the turn's event stream already started: by then the slot is held and the
turn's row written, so every refusal (LLM_BUSY, 401/404, 429) is raised to the route, which
answers it with a status. From its first step on, the stream owns the slot and the turn:
however it ends (to the last event, the client gone, or never iterated at all and closed by
the server or the event loop's collector of unfinished generators), its `finally` releases
the slot and the turn's end is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from assessment_async.infra.db import Database, database_unavailable
from assessment_async.infra.llm_client import LLMClient
from assessment_async.services import chat
from assessment_core.chat import (
    KEEPALIVE,
    SAVE_RETRY_SECONDS,
    StreamResult,
    UpstreamError,
    build_prompt,
    done_event,
    error_event,
    not_saved_event,
    outcome,
    stale_after,
    token_events,
)
from assessment_core.settings import Settings
from assessment_core.tokens import check_owner

log = logging.getLogger(__name__)
T = TypeVar("T")


async def open_turn(
    client: LLMClient, db: Database, background: set[asyncio.Task[Any]], settings: Settings,
    session_id: UUID, token_hash: bytes, message: str,
) -> AsyncGenerator[bytes, None]:
    """The turn's event stream, started. Raises SlotTimeout (every slot busy), the token's
    APIError, TurnInProgress or TurnRateLimited; then nothing is held."""
    events = _turn_events(client, db, background, settings, session_id, token_hash, message)
    await anext(events)  # up to its first yield: the slot is held and the turn written
    return events


async def _turn_events(
    client: LLMClient, db: Database, background: set[asyncio.Task[Any]], settings: Settings,
    session_id: UUID, token_hash: bytes, message: str,
) -> AsyncGenerator[bytes, None]:
    await client.acquire_slot()
    store: TurnStore | None = None  # set once the turn's row is written
    parts: list[str] = []
    result = StreamResult()
    failure: UpstreamError | None = None
    ended = False
    try:
        async with db.connection() as conn:
            owner, history = await chat.select_owner_and_history(
                conn, token_hash, session_id, settings.llm_history_turns)
            check_owner(owner, session_id)
            turn = await chat.insert_turn(conn, session_id, message, settings.llm_model,
                                          stale_after(settings.llm_turn_timeout),
                                          settings.chat_turns_per_minute)
            store = TurnStore(db, turn["id"], turn["turn_number"], background)
        yield b""  # open_turn's step: from here on this stream owns the slot and the turn
        messages = build_prompt(settings.llm_system_prompt, history, message)
        # Closed inner first: the wait for the first token is cancelled and awaited before the
        # upstream stream is closed (an async generator cannot be closed while it runs).
        async with aclosing(client.stream_chat(messages, result)) as deltas, \
                aclosing(first_with_keepalives(deltas, settings.chat_keepalive_seconds)) as batches:
            interval = settings.chat_relay_interval_ms / 1000
            loop = asyncio.get_running_loop()
            async for batch in batches:
                if batch is None:  # nothing yet from the upstream: keep the line alive
                    yield KEEPALIVE
                    continue
                parts.extend(batch)
                written = loop.time()
                yield token_events(batch)
                if interval:  # CHAT_RELAY_INTERVAL_MS: the next read takes what came meanwhile
                    await asyncio.sleep(written + interval - loop.time())
        ended = True
    except UpstreamError as error:
        # Kept without its traceback and the exception it replaced: their frames (this one,
        # stream_chat's) hold the error itself, and the cycle would leave a failed turn's
        # objects to a full garbage collection (tests/test_garbage.py).
        failure = error.with_traceback(None)
        failure.__context__ = None
    except BaseException:
        # A refusal before the turn was written goes to the route as it is. After: the
        # client went away (CancelledError, or GeneratorExit when the stream is closed).
        if store is not None:
            await store.save(parts, outcome(bool(parts), False), "CLIENT_DISCONNECTED", result)
        raise
    finally:
        client.release_slot()

    assert store is not None  # the stream got past its first step
    status = outcome(bool(parts), ended)
    saved = await store.save(parts, status, failure.code if failure else None, result)
    number = store.turn_number
    if not saved:
        yield not_saved_event(number)
    elif failure is not None:
        yield error_event(number, status, failure)
    else:
        yield done_event(number, status, result)


async def first_with_keepalives(source: AsyncIterator[T], every: float,
                                ) -> AsyncGenerator[T | None, None]:
    """`source`'s items, with a None after each `every` seconds that pass before its first.
    Only the wait for the first token needs it (a stall later is LLM_READ_TIMEOUT's): one
    task reads the first item, and the rest pass straight through, one generator step each."""
    pending = asyncio.ensure_future(anext(source))
    try:
        while not (await asyncio.wait({pending}, timeout=every))[0]:
            yield None
    finally:
        if not pending.done():  # the client left while it waited: stop the read first
            pending.cancel()
            await asyncio.wait({pending})
        elif not pending.cancelled():
            pending.exception()  # retrieved: raised below, or dropped with the closed stream
    try:
        first = pending.result()
    except StopAsyncIteration:
        return
    yield first
    async for item in source:
        yield item


def outlive_cancellation(
    work: Coroutine[Any, Any, bool], pending: set[asyncio.Task[Any]]
) -> asyncio.Task[bool]:
    """Run `work` as its own task, kept in `pending` until done, so a disconnect cannot cut
    it short and the app's shutdown waits for it."""
    task = asyncio.ensure_future(work)
    pending.add(task)
    task.add_done_callback(pending.discard)
    return task


@dataclass
class TurnStore:
    """Where and how a turn's end is written, even after its client has gone."""

    db: Database
    turn_id: UUID
    turn_number: int
    background: set[asyncio.Task[Any]]

    async def save(self, parts: list[str], status: str, error_code: str | None,
                   result: StreamResult) -> bool:
        """Write the turn's end in its own task; False (logged) when the database refused."""
        return await asyncio.shield(outlive_cancellation(
            self._write(parts, status, error_code, result), self.background))

    async def _write(self, parts: list[str], status: str, error_code: str | None,
                     result: StreamResult) -> bool:
        # A database restarting mid-stream is back within seconds: wait for it, rather than
        # leave the turn `streaming`, which refuses the session's next chat for minutes. A
        # busy pool is waited for up to DB_POOL_TIMEOUT per attempt.
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
