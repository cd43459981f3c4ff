"""Flow control for request bodies.

Quart's ASGI connection moves every body message into the request's buffer as soon as the
server hands it over, so a body that arrives faster than the app consumes it (frames going
to disk, or any body while the route still waits on the database) piles up in memory. Here
the connection stops taking messages from the server while more than HIGH_WATER bytes wait
unread; the server then stops reading the socket and TCP slows the client. A route that
reads the whole body (`await request.get_data()`, `get_json()`) lifts the bound for its
request, so it behaves exactly as in Quart.

An answer sent before the body was read (a 401, a 503 while the database is down) is held
until the rest of the body has arrived and been dropped, up to DRAIN_LIMIT bytes and
DRAIN_SECONDS: the server closes such a connection after the answer, and closing a socket
with unread data resets it, which destroys the answer on its way to the client.

A JSON body is held to MAX_BODY_BYTES as it arrives, not to Quart's cap (the largest upload):
a chunked body has no length to refuse up front, and would otherwise be buffered whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart.asgi import ASGIHTTPConnection
from quart.typing import ResponseTypes
from quart.wrappers import Body, Request

from assessment_core.errors import too_large

HIGH_WATER = 256 * 1024
DRAIN_LIMIT = 1024 * 1024
DRAIN_SECONDS = 1.0


class BoundedBody(Body):
    def __init__(self, expected_content_length: int | None,
                 max_content_length: int | None) -> None:
        super().__init__(expected_content_length, max_content_length)
        self.expected = expected_content_length
        self.room = asyncio.Event()
        self.room.set()
        self.whole = False  # someone awaits the complete body: buffer all of it
        self.dropped: int | None = None  # bytes dropped since drain() began
        self.drained = asyncio.Event()  # the body ended, or DRAIN_LIMIT bytes were dropped
        self.received = 0
        self.limit: int | None = None  # see cap()

    async def __anext__(self) -> bytes:
        data = await super().__anext__()
        self.room.set()
        return data

    def __await__(self) -> Generator[Any, None, Any]:
        self.whole = True
        self.room.set()
        return (yield from super().__await__())

    def cap(self, limit: int) -> None:
        """Refuse this body with 413 once more than `limit` bytes arrived, dropping them."""
        self.limit = limit

    def append(self, data: bytes) -> None:
        if self.dropped is not None:
            self.dropped += len(data)
            if self.dropped > DRAIN_LIMIT:
                self.drained.set()
            return
        self.received += len(data)
        if self.limit is not None and self.received > self.limit and self._must_raise is None:
            self._must_raise = too_large(self.limit)  # raised to whoever reads the body
            self._data.clear()
            self.set_complete()
            return
        super().append(data)
        if not self.whole and len(self._data) >= HIGH_WATER:
            self.room.clear()

    def set_complete(self) -> None:
        super().set_complete()
        self.room.set()
        self.drained.set()

    async def drain(self) -> None:
        """Drop what is left of a body nobody will read, so the connection can end cleanly."""
        if self._complete.is_set():
            return
        if self.expected is not None and self.expected - len(self._data) > DRAIN_LIMIT:
            return  # too much to wait for: the answer goes out now, and may be lost
        self.dropped = 0
        self._data.clear()
        self.room.set()
        try:
            await asyncio.wait_for(self.drained.wait(), DRAIN_SECONDS)
        except TimeoutError:
            pass


class FlowControlledConnection(ASGIHTTPConnection):
    # The body, not the request: the request points back at this connection (Quart's
    # push-promise callable), and a cycle would leave every request's objects to the
    # garbage collector's full collections instead of freeing them when the request ends.
    body: Body | None = None

    def _create_request_from_scope(self, send: ASGISendCallable) -> Request:
        request = super()._create_request_from_scope(send)
        settings = self.app.extensions.get("settings")
        self.body = request.body
        if request.is_json and settings is not None and isinstance(self.body, BoundedBody):
            self.body.cap(settings.max_body_bytes)
        return request

    async def _send_response(self, send: ASGISendCallable, response: ResponseTypes) -> None:
        # A 408 answers a body that stopped coming (a slowloris): waiting for the rest would
        # only hold the connection longer.
        if isinstance(self.body, BoundedBody) and response.status_code != 408:
            await self.body.drain()
        await super()._send_response(send, response)

    async def handle_messages(self, request: Request, receive: ASGIReceiveCallable) -> None:
        body = request.body
        while True:
            if isinstance(body, BoundedBody):
                await body.room.wait()
            message = await receive()
            if message["type"] == "http.request":
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body.set_complete()
            elif message["type"] == "http.disconnect":
                return
