"""A streamed chat turn on the twin: its upstream slot, its row, the relay of the answer as
Server-Sent Events from a generator, and the store of its end.

`open_turn` returns the event stream already started, as the ASGI app's does
(assessment_async/services/chat_turns.py): the slot is held and the turn written by then, so
refusals are raised to the route; from its first step on, the generator's `finally`
releases the slot however the stream ends, even if the server never iterates it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar
from uuid import UUID

from assessment_core.admission import worker_busy
from assessment_core.chat import (
    KEEPALIVE,
    SAVE_RETRY_SECONDS,
    StreamResult,
    UpstreamError,
    build_prompt,
    done_event,
    error_event,
    llm_busy,
    not_saved_event,
    outcome,
    sse,
    stale_after,
    token_events,
)
from assessment_core.settings import Settings
from assessment_twin import phase2
from assessment_twin.db import database_unavailable
from assessment_twin.http import require_session
from assessment_twin.llm_client import SyncLLMClient
from assessment_twin.phase2 import call
from assessment_twin.services.llm import LLMConversationService

log = logging.getLogger(__name__)
T = TypeVar("T")


def open_turn(client: SyncLLMClient, settings: Settings, session_id: UUID, token_hash: bytes,
              message: str) -> Iterator[bytes]:
    """The turn's event stream, started. Raises LLM_BUSY (the worker lags, or every slot is
    busy), the token's APIError, TurnInProgress or TurnRateLimited; then nothing is held."""
    events = _turn_events(client, settings, session_id, token_hash, message)
    next(events)  # up to its first yield: the slot is held and the turn written
    return events


def _turn_events(client: SyncLLMClient, settings: Settings, session_id: UUID,
                 token_hash: bytes, message: str) -> Generator[bytes, None, None]:
    if not client.gauge.admits_chat():  # before any work: the worker lags (TWIN_CHAT_ADMISSION)
        raise worker_busy()
    if not client.acquire_slot():
        raise llm_busy()
    history: Sequence[Mapping[str, Any]]
    try:
        if settings.twin_lean_chat:  # the ASGI app's two statements
            history, turn = LLMConversationService.open_turn(
                session_id, token_hash, message, settings.llm_model,
                stale_after(settings.llm_turn_timeout), settings.chat_turns_per_minute,
                settings.llm_history_turns)
        else:  # the plan's services, one transaction each, as the seed calls them
            require_session(session_id, token_hash)
            history = LLMConversationService.recent_turns(session_id,
                                                          settings.llm_history_turns)
            turn = call(LLMConversationService.create_conversation_turn,
                        phase2.create_conversation_turn_async, session_id, message,
                        settings.llm_model, stale_after(settings.llm_turn_timeout),
                        settings.chat_turns_per_minute)
    except BaseException:
        client.release_slot()
        raise
    parts: list[str] = []
    result = StreamResult()
    failure: UpstreamError | None = None
    ended = False
    deltas: Generator[Any, None, None] | None = None
    first: FirstItem[str] | None = None
    first_batch: FirstItem[list[str]] | None = None
    handed_off = False  # the slot and the upstream passed to FirstItem's thread
    try:
        yield b""  # open_turn's step: from here on this generator owns the slot and the turn
        prompt = build_prompt(settings.llm_system_prompt, history, message)
        if settings.twin_batch_writes:  # each upstream read's tokens in one write, as asgi
            batches = client.stream_batches(prompt, result)
            deltas, first_batch = batches, FirstItem(batches)
            while not first_batch.wait(settings.chat_keepalive_seconds):
                yield KEEPALIVE  # nothing yet from the upstream: keep the line alive
            # CHAT_RELAY_INTERVAL_MS: requests hands over each HTTP chunk of the upstream on
            # its own, so the tokens that come within the interval of the last write are held
            # and go out in the next (asgi reads them at once after a pause instead).
            interval = settings.chat_relay_interval_ms / 1000
            held: list[str] = []
            written = -math.inf
            try:
                for batch in first_batch.then_the_rest():
                    parts.extend(batch)
                    held.extend(batch)
                    if (now := time.monotonic()) - written >= interval:
                        written = now
                        yield token_events(held)
                        held.clear()
            except UpstreamError:  # the tokens kept reach the client too, before the error
                if held:
                    yield token_events(held)
                raise
            if held:
                yield token_events(held)
        else:  # the plan's relay: each token written as it comes
            tokens = client.stream_chat(prompt, result)
            deltas, first = tokens, FirstItem(tokens)
            while not first.wait(settings.chat_keepalive_seconds):
                yield KEEPALIVE
            for delta in first.then_the_rest():
                parts.append(delta)
                yield sse("token", {"delta": delta})
        ended = True
    except UpstreamError as error:
        failure = error
    except BaseException:
        # The server closed us (the client went away: GeneratorExit), or the worker is
        # stopping (GreenletExit), or something unforeseen: the turn's end is stored anyway.
        taker = first or first_batch
        # Still waiting for the first token: the waiting thread closes the upstream and frees
        # its slot when its read ends, so no more streams are open than slots.
        handed_off = taker is not None and taker.hand_off(client.release_slot)
        if deltas is not None and not handed_off:
            deltas.close()
        store(turn["id"], parts, outcome(bool(parts), False), "CLIENT_DISCONNECTED", result)
        raise
    finally:
        if not handed_off:
            client.release_slot()
    status = outcome(bool(parts), ended)
    if not store(turn["id"], parts, status, failure.code if failure else None, result):
        yield not_saved_event(turn["turn_number"])
    elif failure is not None:
        yield error_event(turn["turn_number"], status, failure)
    else:
        yield done_event(turn["turn_number"], status, result)


class FirstItem(Generic[T]):
    """The first item of a generator, taken by a thread of its own (a greenlet under gevent's
    patching), so the relay can send keep-alives while it waits; the relay then iterates the
    rest itself. Only one of the two touches the generator at any time."""

    def __init__(self, source: Generator[T, None, None]) -> None:
        self._source = source
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._then: Callable[[], None] | None = None  # set when the relay has left
        self._item: list[T] = []  # the first item, if the source had one
        self._error: BaseException | None = None
        threading.Thread(target=self._take, name="first-token", daemon=True).start()

    def _take(self) -> None:
        try:
            self._item.append(next(self._source))
        except StopIteration:
            pass
        except BaseException as error:  # handed to the relay, which raises it
            self._error = error
        with self._lock:
            self._done.set()
            then = self._then
        if then is not None:  # the relay left while this waited: close the upstream here
            try:
                self._source.close()
            finally:
                then()

    def wait(self, seconds: float) -> bool:
        return self._done.wait(seconds)

    def then_the_rest(self) -> Iterator[T]:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        yield from self._item
        yield from self._source

    def hand_off(self, then: Callable[[], None]) -> bool:
        """The relay is leaving. True when the thread still waits on the source: it will
        close it, then call `then`, when its wait ends. False: the relay closes it itself."""
        with self._lock:
            if self._done.is_set():
                return False
            self._then = then
            return True


def store(turn_id: UUID, parts: list[str], status: str, error_code: str | None,
          result: StreamResult) -> bool:
    """Write the turn's end; False (logged) when the database refused. As in the ASGI app,
    a database restarting mid-stream is waited for (SAVE_RETRY_SECONDS), rather than leave
    the turn `streaming`, which refuses the session's next chat until it goes stale."""
    deadline = time.monotonic() + SAVE_RETRY_SECONDS
    while True:
        try:
            LLMConversationService.finish_turn(turn_id, "".join(parts), status, error_code,
                                               result.completion_tokens)
            return True
        except Exception as error:
            if not database_unavailable(error) or time.monotonic() > deadline:
                log.exception("could not store the end of turn %s", turn_id)
                return False
        time.sleep(0.25)  # a greenlet's sleep under gevent (monkey-patched)
