"""Open-loop PHQ saves: the participants' schedule (load/participants.py) sent at a fixed
rate whatever the server does, each latency counted from its intended send time (no
coordinated omission). A request that fails or times out counts in the percentiles with the
time it took to fail: a participant who waited 10 s for nothing had a 10 s save, not none.
The generator checks itself: how late it sent, against the schedule (send lateness).

    python -m assessment_bench.load.openloop URL --rate R --seconds S --schedule FILE
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from assessment_bench.load.stats import latency_ms


def read_schedule(path: str) -> list[tuple[str, str, int, int]]:
    with open(path) as lines:
        return [(sid, token, int(item), int(answer))
                for sid, token, item, answer in (line.split() for line in lines)]


async def run(base: str, rate: float, seconds: float, steps: list[tuple[str, str, int, int]],
              request_timeout: float) -> dict[str, object]:
    latencies: list[float] = []
    every: list[float] = []  # successes and failures, for the percentiles
    lateness: list[float] = []  # when each request left, against when it was due
    errors: dict[str, int] = {}
    total = int(rate * seconds)
    if total > len(steps):
        errors["schedule_wrapped"] = total - len(steps)
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as http:

        async def one(i: int, intended: float) -> None:
            lateness.append(time.perf_counter() - intended)
            sid, token, item, answer = steps[i % len(steps)]
            headers = {"Authorization": f"Bearer {token}"}
            if item == 0:
                call = http.post(f"{base}/api/sessions/{sid}/phq/submit",
                                 json={"responses": []}, headers=headers)
                expect: tuple[int, ...] = (200, 201)
            else:
                call = http.put(f"{base}/api/sessions/{sid}/phq/responses/{item}",
                                json={"answer": answer}, headers=headers)
                expect = (200,)
            failure = None
            try:
                async with call as response:
                    await response.read()
                    if response.status not in expect:
                        failure = f"http {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                failure = type(error).__name__
            took = time.perf_counter() - intended
            every.append(took)
            if failure is None:
                latencies.append(took)
            else:
                errors[failure] = errors.get(failure, 0) + 1

        running: set[asyncio.Task[None]] = set()
        start = time.perf_counter() + 0.05
        sent = 0
        while sent < total:
            # Every request that is due now leaves now; then sleep until the next is due.
            due = min(total, int((time.perf_counter() - start) * rate) + 1)
            for i in range(sent, due):
                task = asyncio.ensure_future(one(i, start + i / rate))
                running.add(task)
                task.add_done_callback(running.discard)
            sent = max(sent, due)
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
        await asyncio.gather(*running)
        elapsed = time.perf_counter() - start
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
    import json

    import uvloop

    print(json.dumps(uvloop.run(run(args.base, args.rate, args.seconds,
                                    read_schedule(args.schedule), args.request_timeout))))


if __name__ == "__main__":
    main()
