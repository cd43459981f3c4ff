"""Flow control for request bodies.

Quart's ASGI connection moves every body message into the request's buffer as soon as the
server hands it over, so a body that arrives faster than the app consumes it (frames going
to disk, or any body while the route still waits on the database) piles up in memory. Here
the connection stops taking messages from the server while more than HIGH_WATER bytes wait
unread; the server then stops reading the socket and TCP slows the client. A route that
reads the whole body (`await request.get_data()`, `get_json()`) lifts the bound for its
request, so it behaves exactly as in Quart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from hypercorn.typing import ASGIReceiveCallable
from quart.asgi import ASGIHTTPConnection
from quart.wrappers import Body, Request

HIGH_WATER = 256 * 1024


class BoundedBody(Body):
    def __init__(self, expected_content_length: int | None,
                 max_content_length: int | None) -> None:
        super().__init__(expected_content_length, max_content_length)
        self.room = asyncio.Event()
        self.room.set()
        self.whole = False  # someone awaits the complete body: buffer all of it

    async def __anext__(self) -> bytes:
        data = await super().__anext__()
        self.room.set()
        return data

    def __await__(self) -> Generator[Any, None, Any]:
        self.whole = True
        self.room.set()
        return (yield from super().__await__())

    def append(self, data: bytes) -> None:
        super().append(data)
        if not self.whole and len(self._data) >= HIGH_WATER:
            self.room.clear()

    def set_complete(self) -> None:
        super().set_complete()
        self.room.set()


class FlowControlledConnection(ASGIHTTPConnection):
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
