"""Hold N connections open against a server, to weigh what each costs it in memory.

    python -m assessment_bench.load.hold URL --idle N      # kept-alive, one answered GET each
    python -m assessment_bench.load.hold URL --streams N   # chat streams waiting on the LLM

Prints one JSON line once all N are open, or OPEN_SECONDS have passed (how many opened, how
long it took: a server with 32 threads holds 32 streams, and the rest wait), then holds them
until its standard input closes. An idle connection has had one request answered and
waits for the next; a stream has its session, its turn written and its upstream request
sent, and waits for a first token that comes much later (the fake LLM's `ttft` directive).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import aiohttp

HOLD_SECONDS = 600  # a stream's first token: later than any measurement
STREAM_MESSAGE = f"Wait with me {{{{fake-llm: ttft={HOLD_SECONDS},tokens=1}}}}"
OPENING = 200  # connections opened at once
OPEN_SECONDS = 30.0  # the longest the holder waits for them all


async def idle(base: str, count: int) -> tuple[int, list[asyncio.StreamWriter]]:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    request = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    gate = asyncio.Semaphore(OPENING)

    async def one() -> asyncio.StreamWriter | None:
        async with gate:
            try:
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                return writer
            except (OSError, asyncio.IncompleteReadError):
                return None

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    await asyncio.wait(tasks, timeout=OPEN_SECONDS)
    writers = [w for t in tasks if t.done() and (w := t.result()) is not None]
    for task in tasks:
        task.cancel()  # those still waiting to open
    return len(writers), writers


async def streams(base: str, count: int,
                  http: aiohttp.ClientSession) -> tuple[int, list[asyncio.Task[None]]]:
    gate = asyncio.Semaphore(OPENING)
    opened = 0
    started = asyncio.Event()

    async def one() -> None:
        nonlocal opened
        async with gate:
            async with http.post(f"{base}/api/sessions", json={}) as response:
                session = await response.json()
            response = await http.post(
                f"{base}/api/sessions/{session['session_id']}/chat",
                json={"message": STREAM_MESSAGE},
                headers={"Authorization": f"Bearer {session['token']}"})
        if response.status == 200:
            opened += 1
        if opened + failed[0] >= count:
            started.set()
        try:
            await response.content.read()  # held here until the holder is stopped
        finally:
            response.release()

    failed = [0]

    async def guarded() -> None:
        try:
            await one()
        except (aiohttp.ClientError, TimeoutError):
            failed[0] += 1
            if opened + failed[0] >= count:
                started.set()

    tasks = [asyncio.ensure_future(guarded()) for _ in range(count)]
    try:
        await asyncio.wait_for(started.wait(), OPEN_SECONDS)
    except TimeoutError:
        pass  # hold those that opened; the report says how many
    return opened, tasks


async def main_async(base: str, count: int, kind: str) -> None:
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=HOLD_SECONDS + 60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        held: list[asyncio.StreamWriter] | list[asyncio.Task[None]]
        if kind == "idle":
            opened, held = await idle(base, count)
        else:
            opened, held = await streams(base, count, http)
        print(json.dumps({"kind": kind, "asked": count, "opened": opened,
                          "seconds_to_open": round(time.perf_counter() - started, 2)}),
              flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the bench closes our input
        for item in held:
            if isinstance(item, asyncio.Task):
                item.cancel()
            else:
                item.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    kinds = parser.add_mutually_exclusive_group(required=True)
    kinds.add_argument("--idle", type=int)
    kinds.add_argument("--streams", type=int)
    args = parser.parse_args()
    import uvloop

    kind, count = ("idle", args.idle) if args.idle else ("streams", args.streams)
    uvloop.run(main_async(args.base, count, kind))


if __name__ == "__main__":
    main()
