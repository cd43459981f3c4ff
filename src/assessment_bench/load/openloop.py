"""Open-loop PHQ saves: requests leave on a fixed schedule whatever the server does, and each
latency is counted from its intended send time (no coordinated omission). A request that
fails or times out counts in the percentiles with the time it took to fail: a participant
who waited 10 s for nothing had a 10 s save, not none.

    python -m assessment_bench.load.openloop URL --rate R --seconds S --sessions FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from assessment_bench.load.stats import latency_ms


async def run(base: str, rate: float, seconds: float, sessions: list[dict[str, str]],
              request_timeout: float) -> dict[str, object]:
    latencies: list[float] = []
    every: list[float] = []  # successes and failures, for the percentiles
    errors: dict[str, int] = {}
    total = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as http:
        start = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            intended = start + i / rate
            delay = intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            session = sessions[i % len(sessions)]
            url = f"{base}/api/sessions/{session['session_id']}/phq/responses/{i % 10 + 1}"
            failure = None
            try:
                async with http.put(url, json={"answer": i % 4},
                                    headers={"Authorization": f"Bearer {session['token']}"}
                                    ) as response:
                    await response.read()
                    if response.status != 200:
                        failure = f"http {response.status}"
            except (aiohttp.ClientError, TimeoutError) as error:
                failure = type(error).__name__
            took = time.perf_counter() - intended
            every.append(took)
            if failure is None:
                latencies.append(took)
            else:
                errors[failure] = errors.get(failure, 0) + 1

        tasks = [asyncio.ensure_future(one(i)) for i in range(total)]
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"target_rate": rate, "achieved_rate": round(len(latencies) / elapsed, 1),
            "requests": total, "ok": len(latencies), "errors": errors, **latency_ms(every)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--sessions", required=True, help="JSON file: [{session_id, token}]")
    parser.add_argument("--timeout", type=float, default=10)
    args = parser.parse_args()
    with open(args.sessions) as handle:
        sessions = json.load(handle)
    import uvloop

    print(json.dumps(uvloop.run(run(args.base, args.rate, args.seconds, sessions,
                                    args.timeout))))


if __name__ == "__main__":
    main()
