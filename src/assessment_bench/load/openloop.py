"""Open-loop PHQ saves: the participants' schedule (load/participants.py) sent at a fixed
rate whatever the server does, each latency counted from its intended send time (no
coordinated omission). A request that fails or times out counts in the percentiles with the
time it took to fail: a participant who waited 10 s for nothing had a 10 s save, not none.
The generator checks itself: how late it sent, against the schedule (send lateness).

    python -m assessment_bench.load.openloop URL --rate R --seconds S --schedule FILE

The requests are made ready before the clock starts, go out on kept-alive connections (a new
one whenever every open one is busy), and their answers are read with httptools, Uvicorn's
own HTTP parser, on uvloop. aiohttp's client, measured first on the helper core beside
PostgreSQL, sent 2,000 saves/s with a p99 send lateness of 7.6 ms and fell behind at 3,000
(34 ms): the knees it found would have been its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import deque
from typing import cast
from urllib.parse import urlsplit

import httptools

from assessment_bench.load.stats import latency_ms

Step = tuple[str, str, int, int]  # session id, token, item (0: submit), answer


def read_schedule(path: str) -> list[Step]:
    with open(path) as lines:
        return [(sid, token, int(item), int(answer))
                for sid, token, item, answer in (line.split() for line in lines)]


def request_bytes(host: str, step: Step) -> tuple[bytes, tuple[int, ...]]:
    """One step as the bytes on the wire, and the statuses that mean it worked."""
    sid, token, item, answer = step
    ok: tuple[int, ...]
    if item == 0:
        method, path, ok = "POST", f"/api/sessions/{sid}/phq/submit", (200, 201)
        body = b'{"responses": []}'
    else:
        method, path, ok = "PUT", f"/api/sessions/{sid}/phq/responses/{item}", (200,)
        body = b'{"answer": %d}' % answer
    head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body, ok


class Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, its answer parsed as it comes."""

    def __init__(self, idle: deque[Connection], lost: set[Connection]) -> None:
        self.idle, self.lost = idle, lost
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiting: asyncio.Future[int] | None = None
        self.complete = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def send(self, data: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiting = asyncio.get_running_loop().create_future()
        self.complete = False
        self.transport.write(data)
        return self.waiting

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(error)

    def on_message_complete(self) -> None:
        self.complete = True
        waiting, self.waiting = self.waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_result(self.parser.get_status_code())
        if self.parser.should_keep_alive():
            self.idle.append(self)
        else:
            self._close()

    def connection_lost(self, error: Exception | None) -> None:
        self._fail(error or ConnectionResetError("the server closed the connection"))

    def _fail(self, error: BaseException) -> None:
        self._close()
        waiting, self.waiting = self.waiting, None
        if waiting is not None and not waiting.done():
            waiting.set_exception(error)

    def _close(self) -> None:
        self.lost.add(self)
        if self.transport is not None:
            self.transport.close()


async def run(base: str, rate: float, seconds: float, steps: list[Step],
              request_timeout: float) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    total = int(rate * seconds)
    errors: dict[str, int] = {}
    if total > len(steps):
        errors["schedule_wrapped"] = total - len(steps)
    ready = [request_bytes(f"{host}:{port}", steps[i % len(steps)]) for i in range(total)]
    latencies: list[float] = []
    every: list[float] = []  # successes and failures, for the percentiles
    lateness: list[float] = []  # when each request left, against when it was due
    idle: deque[Connection] = deque()
    lost: set[Connection] = set()

    def failed(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def connection() -> Connection:
        while idle:
            ready_one = idle.popleft()
            if ready_one not in lost:
                return ready_one
        _, made = await loop.create_connection(lambda: Connection(idle, lost), host, port)
        return made

    async def one(index: int, intended: float) -> None:
        data, ok = ready[index]
        try:
            async with asyncio.timeout(request_timeout):
                conn = await connection()
                lateness.append(time.perf_counter() - intended)
                status = await conn.send(data)
            if status not in ok:
                failed(f"http {status}")
            else:
                latencies.append(time.perf_counter() - intended)
        except TimeoutError:
            failed("TimeoutError")
        except (OSError, httptools.HttpParserError) as error:
            failed(type(error).__name__)
        every.append(time.perf_counter() - intended)

    running: set[asyncio.Task[None]] = set()
    start = time.perf_counter() + 0.05
    sent = 0
    while sent < total:
        # Every request that is due now leaves now; then sleep until the next is due.
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        for index in range(sent, due):
            task = asyncio.ensure_future(one(index, start + index / rate))
            running.add(task)
            task.add_done_callback(running.discard)
        sent = max(sent, due)
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    await asyncio.gather(*running)
    elapsed = time.perf_counter() - start
    for conn in (*idle, *lost):
        conn._close()
    late = latency_ms(lateness)
    return {"target_rate": rate, "achieved_rate": round(len(latencies) / elapsed, 1),
            "requests": total, "ok": len(latencies), "errors": errors,
            "send_lateness_p99_ms": late["p99_ms"], "send_lateness_max_ms": late["max_ms"],
            **latency_ms(every)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--schedule", required=True, help="the participants' schedule file")
    parser.add_argument("--request-timeout", type=float, default=10)
    args = parser.parse_args()
    import uvloop

    print(json.dumps(uvloop.run(run(args.base, args.rate, args.seconds,
                                    read_schedule(args.schedule), args.request_timeout))))


if __name__ == "__main__":
    main()
