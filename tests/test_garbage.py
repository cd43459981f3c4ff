"""A request's objects are freed when it ends, not left in reference cycles for the garbage
collector: a full collection over thousands of dead requests held the loop for ~150 ms under
load (docs/performance.md, "Reference cycles")."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import httpx
import pytest

from assessment_async.http.backpressure import BoundedBody, FlowControlledConnection
from assessment_async.http.jsonio import APIRequest
from assessment_core.chat import UpstreamError
from assessment_core.settings import Settings
from tests.conftest import serving_http
from tests.images import frame, multipart


@pytest.fixture(name="garbage")
def _garbage() -> Iterator[list[object]]:
    """What the collector finds unreachable, kept instead of freed, for the test to inspect."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def left_in_cycles(garbage: list[object], llm_url: str) -> list[str]:
    """The request-path objects among the garbage: the app's request, connection and body,
    and the upstream responses (the test's own client responses are not the app's)."""
    found = []
    for thing in garbage:
        if isinstance(thing, APIRequest | FlowControlledConnection | BoundedBody):
            found.append(type(thing).__name__)
        elif isinstance(thing, UpstreamError):
            found.append(f"UpstreamError {thing.code}")
        elif isinstance(thing, httpx.Response) and str(thing.request.url).startswith(llm_url):
            found.append(f"upstream {type(thing).__name__}")
    return found


async def test_saves_chats_and_uploads_leave_no_reference_cycles(
    settings: Settings, garbage: list[object],
) -> None:
    assert settings.llm_base_url is not None
    async with serving_http(settings) as url, httpx.AsyncClient(base_url=url) as http:
        session = (await http.post("/api/sessions", json={})).json()
        path = f"/api/sessions/{session['session_id']}"
        auth = {"Authorization": f"Bearer {session['token']}"}
        for question in (1, 2, 3):
            saved = await http.put(f"{path}/phq/responses/{question}", headers=auth,
                                   json={"answer": 1})
            assert saved.status_code == 200
        for message in ("hello", "how are you"):
            chat = await http.post(f"{path}/chat", headers=auth, json={"message": message})
            assert chat.status_code == 200 and "event: done" in chat.text
        # Failed turns too: an upstream cut mid-stream, bad JSON in a chunk, an upstream 503.
        for fault in ("fault=cut,fault_at=3", "fault=malformed,fault_at=2",
                      "fault=error,status=503"):
            chat = await http.post(f"{path}/chat", headers=auth,
                                   json={"message": f"{{{{fake-llm: {fault}}}}} hello"})
            assert chat.status_code == 200 and "event: error" in chat.text, chat.text
        body, headers = multipart({"capture_type": "face"},
                                  [("frames", "a.jpg", "image/jpeg", frame())])
        uploaded = await http.post(f"{path}/captures", content=body, headers=auth | headers)
        assert uploaded.status_code == 201
        marker = Marker()
        marker.itself = marker  # a cycle made here, to show the check sees cycles
        del marker
        gc.collect()
        assert left_in_cycles(garbage, settings.llm_base_url) == []
        assert any(isinstance(thing, Marker) for thing in garbage)


class Marker:
    itself: Marker | None = None
