"""Request-body flow control: a body is buffered up to HIGH_WATER unless read whole."""

from __future__ import annotations

import asyncio

from assessment_async.backpressure import HIGH_WATER, BoundedBody

CHUNK = b"x" * (64 * 1024)


async def test_the_buffer_stops_taking_data_at_high_water_until_read() -> None:
    body = BoundedBody(None, None)
    while body.room.is_set():
        body.append(CHUNK)
    assert HIGH_WATER <= len(body._data) < HIGH_WATER + len(CHUNK)
    chunk = await anext(body)
    assert len(chunk) >= HIGH_WATER
    assert body.room.is_set()


async def test_a_body_read_whole_lifts_the_bound() -> None:
    """As in a JSON route: data arrives (and fills the buffer) before the route awaits it."""
    body = BoundedBody(None, None)
    while body.room.is_set():
        body.append(CHUNK)
    buffered = len(body._data)
    reader = asyncio.ensure_future(asyncio.wait_for(body, timeout=5))
    await asyncio.sleep(0.01)
    assert body.room.is_set()
    for _ in range(4 * HIGH_WATER // len(CHUNK)):
        body.append(CHUNK)
        assert body.room.is_set()
    body.set_complete()
    assert len(await reader) == buffered + 4 * HIGH_WATER
