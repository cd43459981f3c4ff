"""Chats that start and end all the time: participants arrive at a fixed rate (open loop),
each starts a session and a chat back to back, and reads the reply to its end.

    python -m assessment_bench.load.churn URL --rate R --seconds S [--message TEXT]

Prints, for the participants who arrived in the window: chats completed per second
(goodput), chats refused (429 or 503, as a server protecting itself answers) with how long
the refusal took, and every other failure. Arrivals that are still streaming DEADLINE_GRACE
after the window are cut and counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import aiohttp

from assessment_bench.load.stats import latency_ms

DEADLINE_GRACE = 15.0
# A reply like a real model's: 300 ms to the first of 60 tokens, 25 ms apart (1.8 s a chat).
# Sixty, not twenty: what fills a server's core is relaying tokens, and per token the fake LLM
# and this client (on the helper core) cost less than the server; with short replies the
# per-chat work (a session, a turn, PostgreSQL's share) saturated the helper core first.
TOKENS = 60
MESSAGE = ("How do I talk to my doctor? "
           f"{{{{fake-llm: ttft=0.3,tokens={TOKENS},gap=0.025}}}}")
REFUSALS = (429, 503)


async def participant(http: aiohttp.ClientSession, base: str, message: str,
                      record: dict[str, list[float]], errors: dict[str, int]) -> None:
    arrived = time.perf_counter()
    try:
        async with http.post(f"{base}/api/sessions", json={}) as response:
            if response.status in REFUSALS:
                await response.read()
                record["refused_s"].append(time.perf_counter() - arrived)
                return
            if response.status != 201:
                errors[f"session http {response.status}"] = errors.get(
                    f"session http {response.status}", 0) + 1
                return
            session = await response.json()
        url = f"{base}/api/sessions/{session['session_id']}/chat"
        headers = {"Authorization": f"Bearer {session['token']}"}
        asked = time.perf_counter()
        async with http.post(url, json={"message": message}, headers=headers) as response:
            if response.status in REFUSALS:
                await response.read()
                record["refused_s"].append(time.perf_counter() - asked)  # the chat's own wait
                return
            if response.status != 200:
                errors[f"http {response.status}"] = errors.get(f"http {response.status}", 0) + 1
                await response.read()
                return
            # Read as the bytes arrive, not line by line: this client shares a core with
            # PostgreSQL and the fake LLM, and must cost far less per token than the server.
            tail = b""
            async for data in response.content.iter_any():
                tail = (tail + data)[-200:]
            ends = tail.rsplit(b"event: ", 1)
            outcome = ends[1].split(b"\n", 1)[0].decode() if len(ends) == 2 else "?"
    except (aiohttp.ClientError, TimeoutError) as error:
        errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
        return
    if outcome == "done":
        record["chat_s"].append(time.perf_counter() - arrived)
    else:
        errors[f"event {outcome}"] = errors.get(f"event {outcome}", 0) + 1


async def run(base: str, rate: float, seconds: float, message: str) -> dict[str, object]:
    record: dict[str, list[float]] = {"chat_s": [], "refused_s": []}
    errors: dict[str, int] = {}
    arrivals = int(rate * seconds)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=120)) as http:
        start = time.perf_counter()
        tasks = []
        lateness = []
        for n in range(arrivals):
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            lateness.append(time.perf_counter() - due)
            tasks.append(asyncio.ensure_future(participant(http, base, message, record,
                                                           errors)))
        _, late = await asyncio.wait(tasks, timeout=DEADLINE_GRACE) if tasks else ((), ())
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        if late:
            errors["cut at the deadline"] = len(late)
    refused = {f"refused_{k}": v for k, v in latency_ms(record["refused_s"]).items()}
    chats = {f"chat_{k}": v for k, v in latency_ms(record["chat_s"]).items()}
    return {"offered_per_s": rate, "arrivals": arrivals,
            "completed": len(record["chat_s"]),
            "goodput_per_s": round(len(record["chat_s"]) / seconds, 2),
            "refused": len(record["refused_s"]), "errors": errors,
            "send_lateness_p99_ms": latency_ms(lateness).get("p99_ms", 0.0),
            **chats, **refused}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--message", default=MESSAGE)
    args = parser.parse_args()
    import uvloop

    print(json.dumps(uvloop.run(run(args.base, args.rate, args.seconds, args.message))))


if __name__ == "__main__":
    main()
