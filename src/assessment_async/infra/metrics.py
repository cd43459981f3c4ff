"""Prometheus metrics and the request id: one ASGI middleware, one event-loop watcher, and
the garbage collector's pauses.

Served at GET /metrics (blueprints/metrics.py). With several Hypercorn workers, the CLI sets
PROMETHEUS_MULTIPROC_DIR so that any worker's /metrics answers for all of them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections import deque
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, ASGISendEvent
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from assessment_async.infra.logs import request_id, request_id_from
from assessment_core.admission import PROBE_SECONDS, LagGauge
from assessment_core.collector import apply_young_threshold

access_log = logging.getLogger("assessment_async.access")

# Chat streams last seconds to minutes, PHQ saves a few milliseconds: buckets cover both.
LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 180)
LAG_BUCKETS = (.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5)

REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response body (streams included).",
    ["method", "route", "status"], buckets=LATENCY_BUCKETS)
IN_FLIGHT = Gauge("http_requests_in_flight", "Requests being served.",
                  multiprocess_mode="livesum")
POOL_IN_USE = Gauge("db_pool_connections_in_use", "Pooled database connections checked out.",
                    multiprocess_mode="livesum")
POOL_SIZE = Gauge("db_pool_size", "Database connections the pool may hold.",
                  multiprocess_mode="livesum")
LLM_STREAMS = Gauge("llm_streams_open", "Chat turns holding an upstream stream slot.",
                    multiprocess_mode="livesum")
CHATS_REFUSED = Counter("chat_turns_refused", "Chats refused, before any work, while the "
                        "worker lagged past CHAT_ADMIT_LAG_MS or held its ceiling of open "
                        "chats (assessment_core/admission.py).")
CHAT_CEILING = Gauge("chat_admission_ceiling", "Open chats the worker admits beside its lag, "
                     "learnt from it (+Inf until the lag first passes CHAT_ADMIT_LAG_MS).",
                     multiprocess_mode="livesum")
LOOP_LAG = Histogram(
    "event_loop_lag_seconds",
    f"How late the event loop woke a {PROBE_SECONDS * 1000:.0f} ms timer: time during "
    "which no request could make progress.", buckets=LAG_BUCKETS)

GC_PAUSE = Histogram(
    "gc_pause_seconds", "How long one garbage collection held the interpreter, by generation "
    "(2: a full collection, which scans every tracked object).", ["generation"],
    buckets=LAG_BUCKETS)
SAVE_BATCH_SIZE = Histogram(
    "phq_save_batch_size", "Answers written by one statement (services/answer_writer.py).",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 500))
UNMATCHED = "<unmatched>"  # one label for every URL with no route, so scans add no series


def route_of(scope: dict[str, Any]) -> str:
    """The route template the app matched (set by the app's before_request hook)."""
    route: str = scope.get("route", UNMATCHED)
    return route


CLIENT_GONE = 499  # nginx's "client closed request": the client left before the answer


class ObservedApp:
    """Wraps the app: a request id for logs and the response, in-flight count, latency."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: ASGIReceiveCallable,
                       send: ASGISendCallable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        header = next((value for name, value in scope["headers"] if name == b"x-request-id"),
                      b"")
        rid = request_id_from(header.decode("latin-1"))
        token = request_id.set(rid)
        # Until the app answers: CLIENT_GONE (the client left first: the app is cancelled, or
        # ends without an answer), 500 if it fails; so a load generator stopping mid-request
        # does not read as server errors in the log and the metrics.
        status, answered = CLIENT_GONE, False
        started = time.perf_counter()

        async def send_with_id(message: ASGISendEvent) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:  # not CancelledError, a BaseException
            if not answered:
                status = 500
            raise
        finally:
            IN_FLIGHT.dec()
            seconds = time.perf_counter() - started
            route = route_of(scope)
            REQUEST_SECONDS.labels(scope["method"], route, str(status)).observe(seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={
                    "method": scope["method"], "route": route, "status": status,
                    "duration_ms": round(seconds * 1000, 2)})
            request_id.reset(token)


async def watch_event_loop(gauge: LagGauge) -> None:
    """Measure, forever, how late the loop runs a short timer: the lag every request feels,
    recorded, and given to the gauge that admits chats."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + PROBE_SECONDS
        await asyncio.sleep(PROBE_SECONDS)
        lag = max(0.0, loop.time() - due)
        LOOP_LAG.observe(lag)
        gauge.observe(lag)
        CHAT_CEILING.set(gauge.ceiling)
        record_collections()


def watch_garbage_collector(freeze: bool, young_threshold: int) -> None:
    """Time every collection; set the young generation's threshold (gc_young_threshold);
    with `freeze`, first move every object alive now (modules, schemas, the app) to the
    collector's permanent generation.

    A full collection scans every tracked object: about 100,000 after start-up, tens of
    milliseconds of a core during which no request progresses (docs/performance.md).
    """
    if _time_collection not in gc.callbacks:
        gc.callbacks.append(_time_collection)
    apply_young_threshold(young_threshold)
    if freeze:
        gc.collect()
        gc.freeze()


_collection_started = 0.0
# (generation, seconds) of collections not yet recorded. The collector's callback only
# appends here: it may run inside any allocation, including one made while prometheus_client
# holds its lock (one lock for every value with several workers), so taking that lock there
# could deadlock the worker. The loop watcher records them.
_collections: deque[tuple[int, float]] = deque(maxlen=10_000)


def _time_collection(phase: str, info: dict[str, int]) -> None:
    global _collection_started
    if phase == "start":
        _collection_started = time.perf_counter()
    else:
        _collections.append((info["generation"], time.perf_counter() - _collection_started))


def record_collections() -> None:
    """Put the collections timed before this call on the histogram (recording them may
    collect again: those wait for the next call)."""
    for _ in range(len(_collections)):
        generation, seconds = _collections.popleft()
        GC_PAUSE.labels(str(generation)).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page: this process's registry, or every worker's in multiprocess mode."""
    record_collections()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
