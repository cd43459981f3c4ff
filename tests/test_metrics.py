"""GET /metrics on the metrics port, beside the API served by Uvicorn: latency per route,
in-flight, pool use, upstream streams, event-loop lag, garbage collections, and the request id
on every answer."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from assessment_async.infra.metrics import ObservedApp
from assessment_core.settings import Settings
from assessment_dev.ports import free_port
from tests.conftest import serving_http

SAVE_ROUTE = "/api/sessions/<uuid:sid>/phq/responses/<question_id>"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class APIAndMetrics(httpx.AsyncClient):
    """A client of the API that also scrapes the app's metrics port."""

    metrics_url = ""


@pytest.fixture(name="http")
async def _http(settings: Settings) -> AsyncIterator[APIAndMetrics]:
    port = free_port()
    async with serving_http(settings, metrics_port=port) as url, \
            APIAndMetrics(base_url=url) as client:
        client.metrics_url = f"http://127.0.0.1:{port}/metrics"
        yield client


async def scrape(http: httpx.AsyncClient) -> Samples:
    assert isinstance(http, APIAndMetrics)
    response = await http.get(http.metrics_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def new_session(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    body = (await http.post("/api/sessions", json={})).json()
    return f"/api/sessions/{body['session_id']}", {"Authorization": f"Bearer {body['token']}"}


async def test_requests_are_counted_per_route_template_and_status(
    http: httpx.AsyncClient,
) -> None:
    path, auth = await new_session(http)
    before = await scrape(http)
    for question in (1, 2, 3):
        response = await http.put(f"{path}/phq/responses/{question}", headers=auth,
                                  json={"answer": 1})
        assert response.status_code == 200
    assert (await http.put(f"{path}/phq/responses/1", json={"answer": 1})).status_code == 401
    after = await scrape(http)

    def count(status: str) -> float:
        labels = {"method": "PUT", "route": SAVE_ROUTE, "status": status}
        return (value(after, "http_request_duration_seconds_count", **labels)
                - value(before, "http_request_duration_seconds_count", **labels))

    assert count("200") == 3
    assert count("401") == 1
    # No series names a session: ids stay out of the labels.
    assert not any(path.rsplit("/", 1)[1] in str(key) for key in after)


async def test_unknown_paths_share_one_label(http: httpx.AsyncClient) -> None:
    before = await scrape(http)
    for path in ("/nope", "/wp-admin", "/api/sessions/not-a-uuid"):
        assert (await http.get(path)).status_code == 404
    after = await scrape(http)
    labels = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert (value(after, "http_request_duration_seconds_count", **labels)
            - value(before, "http_request_duration_seconds_count", **labels)) == 3


async def test_a_streamed_chat_is_timed_to_its_last_byte(http: httpx.AsyncClient) -> None:
    path, auth = await new_session(http)
    labels = {"method": "POST", "route": "/api/sessions/<uuid:sid>/chat", "status": "200"}
    before = await scrape(http)
    async with http.stream("POST", f"{path}/chat", headers=auth,
                           json={"message": "hello {{fake-llm: gap=0.02}}"}) as response:
        assert response.status_code == 200
        during = await scrape(http)
        assert value(during, "llm_streams_open") >= 1
        assert value(during, "http_requests_in_flight") >= 1  # the chat (scrapes: elsewhere)
        await response.aread()
    # The server records the request as its handler ends, just after the last byte left:
    # a scrape may come first.
    for _ in range(40):
        after = await scrape(http)
        seconds = (value(after, "http_request_duration_seconds_sum", **labels)
                   - value(before, "http_request_duration_seconds_sum", **labels))
        if seconds:
            break
        await asyncio.sleep(0.05)
    assert seconds >= 11 * 0.02  # 12 tokens, 20 ms apart: 11 gaps
    assert value(after, "llm_streams_open") == 0
    assert value(after, "db_pool_connections_in_use") == 0
    assert value(after, "db_pool_size") >= 10


async def test_the_event_loop_lag_is_sampled_and_a_stall_shows(
    http: httpx.AsyncClient,
) -> None:
    def stalled(samples: Samples) -> float:
        return (value(samples, "event_loop_lag_seconds_count")
                - value(samples, "event_loop_lag_seconds_bucket", le="0.02"))

    before = await scrape(http)
    await asyncio.sleep(0.2)
    time.sleep(0.08)  # noqa: ASYNC251 - blocks the loop (the server shares it) on purpose
    await asyncio.sleep(0.05)
    after = await scrape(http)
    assert (value(after, "event_loop_lag_seconds_count")
            - value(before, "event_loop_lag_seconds_count")) >= 3
    assert stalled(after) - stalled(before) >= 1


async def test_start_up_objects_are_frozen_and_full_collections_are_timed(
    http: httpx.AsyncClient,
) -> None:
    # The server shares this test's process: its start-up froze what was alive then.
    assert gc.get_freeze_count() > 10_000
    before = await scrape(http)
    gc.collect()
    after = await scrape(http)
    assert (value(after, "gc_pause_seconds_count", generation="2")
            - value(before, "gc_pause_seconds_count", generation="2")) >= 1
    assert (value(after, "gc_pause_seconds_sum", generation="2")
            > value(before, "gc_pause_seconds_sum", generation="2"))


async def test_every_answer_carries_a_request_id(http: httpx.AsyncClient) -> None:
    fresh = await http.get("/healthz")
    assert len(fresh.headers["X-Request-ID"]) == 32
    kept = await http.get("/healthz", headers={"X-Request-ID": "frontend-42.a"})
    assert kept.headers["X-Request-ID"] == "frontend-42.a"
    replaced = await http.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert replaced.headers["X-Request-ID"] != "x" * 65


def test_timing_collections_cannot_deadlock_a_worker(tmp_path: Path) -> None:
    # With several workers prometheus_client guards every value with one lock; a collection
    # can start inside any allocation made under it. Collect on every allocation and make new
    # series (allocations under that lock): the callback must never wait for the lock.
    script = (
        "import gc\n"
        "from assessment_async.infra import metrics\n"
        "metrics.watch_garbage_collector(freeze=False, young_threshold=700)\n"
        "gc.set_threshold(1, 10**6, 10**6)\n"  # a young collection on every allocation
        "for n in range(200):\n"
        "    metrics.REQUEST_SECONDS.labels('GET', f'/r{n}', '200').observe(0.01)\n"
        "metrics.record_collections()\n"
        "print('done')\n")
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.strip() == "done", result.stderr[-2000:]


async def test_metrics_are_not_served_on_the_api_port(http: APIAndMetrics) -> None:
    response = await http.get("/metrics")
    assert response.status_code == 404
    other = await http.get(http.metrics_url.replace("/metrics", "/api/sessions"))
    assert other.status_code == 404
    assert "Only GET /metrics" in other.text


async def test_the_metrics_listener_starts_and_stops_with_the_app(settings: Settings) -> None:
    from assessment_async.app import create_app

    port = free_port()
    for _ in range(2):  # the port is free again after a clean stop
        app = create_app(settings.model_copy(update={"metrics_port": port}))
        async with app.test_app(), httpx.AsyncClient() as client:
            page = await client.get(f"http://127.0.0.1:{port}/metrics")
            assert page.status_code == 200 and "event_loop_lag_seconds" in page.text
        with pytest.raises(httpx.ConnectError):
            await httpx.AsyncClient().get(f"http://127.0.0.1:{port}/metrics")


@pytest.mark.parametrize(("app_does", "status"), [
    ("is cancelled", "499"),  # the client left: the server cancelled the request
    ("ends unanswered", "499"),  # the client left: the framework gave up on its own
    ("fails", "500"),
    ("answers", "204"),
])
async def test_a_client_that_leaves_is_counted_as_gone_not_as_a_server_error(
    app_does: str, status: str,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if app_does == "is cancelled":
            raise asyncio.CancelledError
        if app_does == "fails":
            raise RuntimeError("boom")
        if app_does == "answers":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        pass

    labels = {"method": "PUT", "route": "/gone-test", "status": status}
    before = REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) or 0
    scope = {"type": "http", "method": "PUT", "headers": [], "route": "/gone-test"}
    with contextlib.suppress(asyncio.CancelledError, RuntimeError):
        await ObservedApp(app)(scope, None, send)  # type: ignore[arg-type]
    assert REGISTRY.get_sample_value("http_request_duration_seconds_count", labels) == before + 1
