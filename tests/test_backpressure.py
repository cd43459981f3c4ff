"""Request-body flow control: a body is buffered up to HIGH_WATER unless read whole."""

from __future__ import annotations

import asyncio

import pytest

from assessment_async.http.backpressure import DRAIN_LIMIT, HIGH_WATER, BoundedBody
from assessment_core.errors import APIError

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


async def test_drain_drops_the_unread_rest_until_the_body_ends() -> None:
    """An early answer waits for the body's end, without keeping what arrives."""
    body = BoundedBody(3 * len(CHUNK), None)
    body.append(CHUNK)
    drain = asyncio.ensure_future(body.drain())
    await asyncio.sleep(0.01)
    assert not drain.done() and body.room.is_set()
    body.append(CHUNK)
    body.append(CHUNK)
    body.set_complete()
    await asyncio.wait_for(drain, timeout=1)
    assert len(body._data) == 0


async def test_drain_gives_up_on_a_large_or_endless_rest() -> None:
    body = BoundedBody(DRAIN_LIMIT + 2 * len(CHUNK), None)
    await asyncio.wait_for(body.drain(), timeout=0.1)  # too much left: no wait at all
    endless = BoundedBody(None, None)
    drain = asyncio.ensure_future(endless.drain())
    while not drain.done():
        endless.append(CHUNK)
        await asyncio.sleep(0)
    assert endless.dropped is not None and endless.dropped > DRAIN_LIMIT


async def test_a_capped_body_is_refused_once_past_the_cap_and_dropped() -> None:
    """A chunked JSON body has no length to refuse up front: the cap stops it as it arrives."""
    body = BoundedBody(None, 64 * 1024 * 1024)
    body.cap(3 * len(CHUNK))
    for _ in range(3):
        body.append(CHUNK)
    assert len(body._data) == 3 * len(CHUNK)
    body.append(b"x")
    body.append(CHUNK)
    assert len(body._data) == 0
    with pytest.raises(APIError) as refused:
        await asyncio.wait_for(body, timeout=1)
    assert (refused.value.status, refused.value.code) == (413, "PAYLOAD_TOO_LARGE")
