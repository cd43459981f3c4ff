"""A streamed turn owns its upstream slot and its row from its first step, however it ends."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import orjson
from quart import Quart

from assessment_async.infra.llm_client import LLMClient
from assessment_core.settings import Settings
from tests.blueprints.test_chat import chat, turns
from tests.conftest import Participant, new_participant, serving


def chat_scope(p: Participant, body: bytes) -> dict[str, Any]:
    path = p.url("/chat")
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", f"Bearer {p.token}".encode())],
        "extensions": {},
    }


async def settled(app: Quart, p: Participant) -> tuple[int, list[dict[str, Any]]]:
    """Open streams and the session's turns once the abandoned stream has been closed."""
    llm: LLMClient = app.extensions["llm"]
    for _ in range(100):
        await asyncio.sleep(0.05)
        found = await turns(app.test_client(), p)
        if llm.open_streams == 0 and found and found[0]["status"] != "streaming":
            break
    return llm.open_streams, found


async def test_a_chat_cancelled_before_its_body_starts_frees_its_slot_and_closes_its_turn(
    settings: Settings,
) -> None:
    """The window the route cannot see: the response has started, its body not yet. The
    client leaves there (http.disconnect), so the server cancels the request before it
    iterates the body at all. The collector is off: the stream must be closed when its
    last reference goes, not whenever a collection happens to find it."""
    async with serving(settings, llm_max_streams=1, llm_slot_timeout=0.2) as app:
        p = await new_participant(app.test_client())
        body = orjson.dumps({"message": "hello"})
        received = False
        started, gone = asyncio.Event(), asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.set()
                await asyncio.Event().wait()  # the response start never completes

        gc.disable()
        try:
            request = asyncio.create_task(app(chat_scope(p, body), receive,  # type: ignore[arg-type]
                                              send))  # type: ignore[arg-type]
            await asyncio.wait_for(started.wait(), 10)
            gone.set()
            await asyncio.wait_for(request, 10)
            open_streams, found = await settled(app, p)
        finally:
            gc.enable()

        assert open_streams == 0
        [turn] = found
        assert (turn["status"], turn["error_code"]) == ("failed", "CLIENT_DISCONNECTED")
        # The slot really is free: the session's next chat streams (one slot in all).
        status, events = await chat(app.test_client(), p, "still there?")
        assert status == 200 and events[-1][0] == "done"


async def test_a_refused_chat_holds_no_slot(settings: Settings) -> None:
    """Refusals come after the slot is taken (429 over the limit, 404 for another session's
    token): each gives it back, so with one slot in all the next chat still streams."""
    async with serving(settings, llm_max_streams=1, llm_slot_timeout=0.2,
                       chat_turns_per_minute=1) as app:
        client = app.test_client()
        p, other = await new_participant(client), await new_participant(client)
        assert (await chat(client, p, "one"))[0] == 200
        status, [(_, refusal)] = await chat(client, p, "two")
        assert (status, refusal["error"]["code"]) == (429, "CHAT_RATE_LIMITED")
        stranger = Participant(p.session_id, other.token)
        status, [(_, refusal)] = await chat(client, stranger, "let me in")
        assert (status, refusal["error"]["code"]) == (404, "SESSION_NOT_FOUND")
        assert app.extensions["llm"].open_streams == 0
        status, events = await chat(client, other, "three")
        assert status == 200 and events[-1][0] == "done"
