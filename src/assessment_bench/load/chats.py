"""C concurrent streamed chats, turn after turn, each participant in its own session.

    python -m assessment_bench.load.chats URL --streams C --seconds S [--message TEXT]

Prints chats/s, relayed tokens/s, time to first token at the client, chats refused (503
with Retry-After: a server protecting itself, waited out as a client should) and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from assessment_bench.load.stats import latency_ms

DEADLINE_GRACE = 30.0


async def participant(http: aiohttp.ClientSession, base: str, message: str, stop_at: float,
                      warm_until: float, results: dict[str, list[float]],
                      errors: dict[str, int], delay: float = 0.0) -> None:
    await asyncio.sleep(delay)
    while True:
        try:
            async with http.post(f"{base}/api/sessions", json={}) as response:
                if response.status == 201:
                    session = await response.json()
                    break
                key = f"session http {response.status}"
        except (aiohttp.ClientError, TimeoutError) as error:
            key = f"session {type(error).__name__}"
        errors[key] = errors.get(key, 0) + 1
        if time.perf_counter() >= stop_at:
            return
        await asyncio.sleep(0.2)
    url = f"{base}/api/sessions/{session['session_id']}/chat"
    headers = {"Authorization": f"Bearer {session['token']}"}
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        first, tokens, outcome = None, 0, "?"
        try:
            async with http.post(url, json={"message": message}, headers=headers) as response:
                if response.status == 503 and "Retry-After" in response.headers:
                    await response.read()
                    results["refused"].append(1.0)
                    await asyncio.sleep(min(float(response.headers["Retry-After"]),
                                            max(0.0, stop_at - time.perf_counter())))
                    continue
                if response.status != 200:
                    key = f"http {response.status}"
                    errors[key] = errors.get(key, 0) + 1
                    await response.read()
                    await asyncio.sleep(0.2)
                    continue
                async for line in response.content:
                    if line.startswith(b"event: token"):
                        tokens += 1
                        if first is None:
                            first = time.perf_counter() - started
                    elif line.startswith(b"event: "):
                        outcome = line[7:].strip().decode()
        except (aiohttp.ClientError, TimeoutError) as error:
            errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
            continue
        if outcome != "done":
            errors[f"event {outcome}"] = errors.get(f"event {outcome}", 0) + 1
            continue
        if started >= warm_until:
            results["ttft"].append(first or 0.0)
            results["total"].append(time.perf_counter() - started)
            results["tokens"].append(tokens)
        else:
            results["warmup"].append(1.0)


async def run(base: str, streams: int, seconds: float, warmup: float,
              message: str) -> dict[str, object]:
    results: dict[str, list[float]] = {"ttft": [], "total": [], "tokens": [], "warmup": [],
                                       "refused": []}
    errors: dict[str, int] = {}
    start = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=300)) as http:
        # Participants arrive spread over the first half of the warm-up, as people do, not
        # in one instant; only chats started after the warm-up are counted.
        ramp = warmup / 2
        tasks = [asyncio.ensure_future(participant(http, base, message, start + warmup + seconds,
                                                   start + warmup, results, errors,
                                                   ramp * n / streams))
                 for n in range(streams)]
        # A chat still running at the end may finish within DEADLINE_GRACE; a server that
        # cannot hold this many streams (gthread serves 32 at a time) leaves the rest queued
        # for minutes, and those are cut there and counted, not waited for.
        _, late = await asyncio.wait(tasks, timeout=warmup + seconds + DEADLINE_GRACE)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            errors["cut at the deadline"] = len(late)
    ttft = {f"ttft_{k}": v for k, v in latency_ms(results["ttft"]).items()}
    chat = {f"chat_{k}": v for k, v in latency_ms(results["total"]).items()}
    return {"streams": streams, "chats": len(results["total"]),
            "warmup_chats": len(results["warmup"]),
            "chats_per_s": round(len(results["total"]) / seconds, 2),
            "tokens_per_s": round(sum(results["tokens"]) / seconds, 1),
            "refused": len(results["refused"]), "errors": errors, **ttft, **chat}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--message", default="How can I sleep better?")
    args = parser.parse_args()
    import uvloop

    print(json.dumps(uvloop.run(run(args.base, args.streams, args.seconds, args.warmup,
                                    args.message))))


if __name__ == "__main__":
    main()
