"""Chat streaming at C concurrent streams, for each upstream transport, on a pinned core.

    .venv/bin/python bench/chat_transports.py [--streams 200] [--seconds 20]
    .venv/bin/python bench/chat_transports.py --fake-llm-capacity [--streams 2000]

The app (`assessment-async serve`) runs on core 0; the fake LLM, this load generator and
PostgreSQL share the other core(s). Each virtual participant has its own session and chats
turn after turn. Prints chats/s, time to first token at the client and errors per transport;
the ideal is streams / stream duration. A measurement, not a test: no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp
import psutil

from assessment_dev.fake_llm.launch import running_fake_llm
from assessment_dev.ports import free_port
from common import OTHER_CORES, SERVER_CORE, database_url, pin_self, start_app

# About 0.5 s per stream: first token after 100 ms, then 40 tokens 10 ms apart.
PROFILE = ("--ttft", "0.1", "--tokens", "40", "--gap", "0.01")
STREAM_SECONDS = 0.1 + 39 * 0.01


async def participant(
    http: aiohttp.ClientSession, base: str, stop_at: float, results: list[dict[str, float]],
    errors: dict[str, int],
) -> None:
    async with http.post(f"{base}/api/sessions", json={}) as response:
        session = await response.json()
    url = f"{base}/api/sessions/{session['session_id']}/chat"
    headers = {"Authorization": f"Bearer {session['token']}"}
    while time.monotonic() < stop_at:
        started = time.monotonic()
        first = None
        try:
            async with http.post(url, json={"message": "How should I sleep better?"},
                                 headers=headers) as response:
                if response.status != 200:
                    errors[f"http {response.status}"] = errors.get(f"http {response.status}", 0) + 1
                    await asyncio.sleep(0.1)
                    continue
                outcome = "?"
                async for line in response.content:
                    if line.startswith(b"event: token") and first is None:
                        first = time.monotonic() - started
                    elif line.startswith(b"event: "):
                        outcome = line[7:].strip().decode()
                if outcome != "done":
                    errors[outcome] = errors.get(outcome, 0) + 1
                    continue
        except aiohttp.ClientError as error:
            errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
            continue
        results.append({"end": time.monotonic(), "total": time.monotonic() - started,
                        "ttft": first or 0.0})


async def load(base: str, streams: int, seconds: float, warmup: float) -> dict[str, object]:
    results: list[dict[str, float]] = []
    errors: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=streams + 10)
    timeout = aiohttp.ClientTimeout(total=120)
    start = time.monotonic()
    stop_at = start + warmup + seconds
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(participant(http, base, stop_at, results, errors)
                               for _ in range(streams)))
    counted = [r for r in results if r["end"] >= start + warmup]
    if not counted:
        return {"chats_per_s": 0, "errors": errors}
    ttfts = sorted(r["ttft"] for r in counted)
    totals = sorted(r["total"] for r in counted)
    return {
        "chats_per_s": round(len(counted) / seconds, 1),
        "ideal_chats_per_s": round(streams / STREAM_SECONDS, 1),
        "ttft_p50_ms": round(1000 * statistics.median(ttfts), 1),
        "ttft_p99_ms": round(1000 * ttfts[int(0.99 * (len(ttfts) - 1))], 1),
        "chat_p50_ms": round(1000 * statistics.median(totals), 1),
        "chat_p99_ms": round(1000 * totals[int(0.99 * (len(totals) - 1))], 1),
        "errors": errors,
    }


def compare_transports(args: argparse.Namespace) -> None:
    db_url = database_url()
    with running_fake_llm(*PROFILE, prefix=("taskset", "-c", OTHER_CORES)) as llm_url:
        for transport in args.transports:
            port = free_port()
            process = start_app(port, {"DATABASE_URL": db_url, "LLM_BASE_URL": llm_url,
                                       "LLM_TRANSPORT": transport})
            try:
                server = psutil.Process(process.pid)
                server.cpu_percent()
                figures = asyncio.run(load(f"http://127.0.0.1:{port}", args.streams,
                                           args.seconds, args.warmup))
                figures["server_cpu_percent"] = server.cpu_percent()
                figures["server_rss_mb"] = round(server.memory_info().rss / 2**20, 1)
            finally:
                process.terminate()
                process.wait(30)
            print(json.dumps({"transport": transport, "streams": args.streams, **figures}))


async def hold_streams(url: str, streams: int, seconds: float) -> tuple[int, int, dict[str, int]]:
    """`streams` concurrent streams straight at the fake LLM; (completed, tokens, errors)."""
    completed, tokens = 0, 0
    errors: dict[str, int] = {}
    stop_at = time.monotonic() + seconds
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal completed, tokens
        while time.monotonic() < stop_at:
            try:
                async with http.post(f"{url}/chat/completions", json=body) as response:
                    async for line in response.content:
                        if line.startswith(b'data: {"id"') and b'"content":"' in line:
                            tokens += 1
                completed += 1
            except aiohttp.ClientError as error:
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1

    connector = aiohttp.TCPConnector(limit=streams + 10)
    async with aiohttp.ClientSession(connector=connector) as http:
        await asyncio.gather(*(one(http) for _ in range(streams)))
    return completed, tokens, errors


def fake_llm_capacity(args: argparse.Namespace) -> None:
    """CPU of the fake LLM (pinned to core 0) holding many slow streams."""
    profile = ("--ttft", "0.5", "--tokens", "100", "--gap", "0.05")  # 5.5 s streams
    with running_fake_llm(*profile, prefix=("taskset", "-c", SERVER_CORE)) as url:
        [child] = [p for p in psutil.Process().children(recursive=True)
                   if "fake_llm" in " ".join(p.cmdline())] or [None]
        assert child is not None
        child.cpu_percent()
        started = time.monotonic()
        completed, tokens, errors = asyncio.run(hold_streams(url, args.streams, args.seconds))
        elapsed = time.monotonic() - started
        cpu = child.cpu_percent()
        rate = tokens / elapsed
        print(json.dumps({"streams": args.streams, "completed": completed,
                          "tokens_per_s": round(rate), "fake_llm_cpu_percent": cpu,
                          "cpu_percent_per_1000_tokens_per_s": round(1000 * cpu / rate, 2),
                          "rss_mb": round(child.memory_info().rss / 2**20, 1),
                          "errors": errors}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--transports", nargs="+", default=["httpx", "aiohttp"])
    parser.add_argument("--fake-llm-capacity", action="store_true")
    args = parser.parse_args()
    pin_self()
    if args.fake_llm_capacity:
        fake_llm_capacity(args)
    else:
        compare_transports(args)


if __name__ == "__main__":
    main()
