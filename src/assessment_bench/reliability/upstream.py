"""Upstream LLM faults under load: a 500, a 429, a stall past the read timeout, a stream cut
mid-way, a malformed chunk, each injected into CHATS concurrent chats through the fake LLM's
`{{fake-llm: ...}}` directive in the message.

Each fault is `def fault(stack: Stack, variant: str) -> FaultResult` (sync; it runs its own
event loop) and starts and stops its own server. It holds when every chat ends in an `error`
event with the fault's code within the read timeout plus MARGIN, every turn is stored with the
status the event announced (failed, or partial with exactly the text streamed), and the server
holds no more connections to the fake LLM afterwards than the keep-alive pool may keep idle
(one per chat that was ever in flight at once: CONCURRENCY).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Server, Stack

READ_TIMEOUT = 1.0  # LLM_READ_TIMEOUT of the server under test: a stall is noticed quickly
MARGIN = 4.0  # seconds past the read timeout the error event may take
CHATS = 150
CONCURRENCY = 25
SETTLE = 3.0  # seconds to wait for closing upstream connections to go
# The fake LLM's answer for every chat, whatever profile it was started with.
PROFILE = "ttft=0.01,tokens=8,gap=0.002"


@dataclass(frozen=True)
class Case:
    directive: str  # the fake LLM's fault settings
    code: str  # the `error` event's code
    status: str  # the turn's status
    kept: int  # tokens streamed before the fault


CASES: dict[str, tuple[Case, ...]] = {
    "llm-500": (Case("fault=error,status=500", "UPSTREAM_ERROR", "failed", 0),),
    "llm-429": (Case("fault=error,status=429,retry_after=3", "UPSTREAM_RATE_LIMITED",
                     "failed", 0),),
    "llm-stall": (Case("fault=stall,fault_at=0,stall=30", "UPSTREAM_TIMEOUT", "failed", 0),
                  Case("fault=stall,fault_at=3,stall=30", "UPSTREAM_TIMEOUT", "partial", 3)),
    "llm-cut": (Case("fault=cut,fault_at=0", "UPSTREAM_BROKEN", "failed", 0),
                Case("fault=cut,fault_at=3", "UPSTREAM_BROKEN", "partial", 3)),
    "llm-malformed": (Case("fault=malformed,fault_at=0", "UPSTREAM_MALFORMED", "failed", 0),
                      Case("fault=malformed,fault_at=4", "UPSTREAM_MALFORMED", "partial", 4)),
}


@dataclass
class Chat:
    """How one faulted chat ended, as the client saw it and as the server stored it."""

    seconds: float = 0.0  # from sending the message to the final event
    final: str = ""  # "error", "done", or "" when none came
    problem: str = ""  # empty when the chat ended as the fault requires
    wrong_status: bool = False


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    event, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data:
            yield event, json.loads(data)
            event, data = "message", ""


async def one_chat(client: httpx.AsyncClient, index: int, case: Case | None) -> Chat:
    """A new session's first chat, faulted by `case` (None: a normal chat)."""
    created = await client.post("/api/sessions", json={})
    if created.status_code != 201:
        return Chat(problem=f"session: HTTP {created.status_code}")
    session = created.json()
    auth = {"Authorization": f"Bearer {session['token']}"}
    base = f"/api/sessions/{session['session_id']}"
    directive = PROFILE + (f",{case.directive}" if case else "")
    message = f"chat {index} {{{{fake-llm: {directive}}}}}"
    chat, tokens, final_data = Chat(), [], {}
    started = time.monotonic()
    async with client.stream("POST", f"{base}/chat", json={"message": message},
                             headers=auth) as response:
        if response.status_code != 200:
            await response.aread()
            return Chat(time.monotonic() - started, problem=f"chat: HTTP {response.status_code}")
        async for name, data in sse_events(response):
            if name == "token":
                tokens.append(data["delta"])
            elif name in ("error", "done"):
                chat.seconds, chat.final, final_data = time.monotonic() - started, name, data
                break
    if case is None:
        return chat if chat.final == "done" else Chat(problem=f"normal chat ended {chat.final!r}")
    if chat.final != "error" or final_data.get("code") != case.code:
        chat.problem = f"ended with {chat.final or 'no final event'} " \
                       f"{final_data.get('code', '')}, not error {case.code}".replace("  ", " ")
        return chat
    turns = (await client.get(f"{base}/chat/turns", headers=auth)).json()
    stored = turns[-1] if turns else {}
    seen = (final_data.get("status"), stored.get("status"), stored.get("error_code"),
            len(tokens), stored.get("ai_message"))
    wanted = (case.status, case.status, case.code, case.kept, "".join(tokens))
    if seen != wanted:
        chat.wrong_status = True
        chat.problem = f"event status, stored status, code, tokens: {seen[:4]}, not {wanted[:4]}"
    return chat


async def run_chats(url: str, cases: tuple[Case, ...] | None, count: int) -> list[Chat]:
    timeout = httpx.Timeout(READ_TIMEOUT + MARGIN + 10)
    limits = httpx.Limits(max_connections=2 * CONCURRENCY)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def guarded(client: httpx.AsyncClient, index: int) -> Chat:
        async with gate:
            try:
                return await one_chat(client, index, cases[index % len(cases)] if cases else None)
            except (httpx.HTTPError, ValueError, KeyError) as error:
                return Chat(problem=f"client: {type(error).__name__}: {error}")

    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        return await asyncio.gather(*(guarded(client, index) for index in range(count)))


def upstream_sockets(server: Server, port: int) -> int:
    """TCP connections the server's processes hold to the upstream's port (any state)."""
    seen: set[tuple[Any, Any]] = set()
    for process in server.processes():
        try:
            connections = process.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seen.update((c.laddr, c.raddr) for c in connections if c.raddr and c.raddr.port == port)
    return len(seen)


def settled_sockets(server: Server, port: int) -> int:
    """The count once closing connections have gone (or SETTLE seconds passed)."""
    deadline = time.monotonic() + SETTLE
    count = upstream_sockets(server, port)
    while count > CONCURRENCY and time.monotonic() < deadline:
        time.sleep(0.2)
        count = upstream_sockets(server, port)
    return count


def run(stack: Stack, variant: str, fault: str) -> FaultResult:
    port = urlsplit(stack.llm_url).port
    assert port is not None
    server = Server(variant, stack, env={"LLM_READ_TIMEOUT": str(READ_TIMEOUT)})
    server.start()
    try:
        warm = asyncio.run(run_chats(server.url, None, CONCURRENCY))
        before = settled_sockets(server, port)
        chats = asyncio.run(run_chats(server.url, CASES[fault], CHATS))
        after = settled_sockets(server, port)
    finally:
        server.stop()
    return judge(fault, variant, chats, warm, before, after)


def judge(fault: str, variant: str, chats: list[Chat], warm: list[Chat], before: int,
          after: int) -> FaultResult:
    errors = [c.seconds for c in chats if c.final == "error"]
    right = [c for c in chats if c.final == "error" and (not c.problem or c.wrong_status)]
    bound = READ_TIMEOUT + MARGIN
    figures: dict[str, float] = {
        "chats": len(chats),
        "error_events": len(right),
        "wrong_status": sum(c.wrong_status for c in chats),
        "failed_requests": sum(1 for c in chats if c.final != "error"),
        "slowest_error_seconds": round(max(errors, default=0.0), 3),
        "median_error_seconds": round(statistics.median(errors), 3) if errors else 0.0,
        "upstream_sockets_before": before,
        "upstream_sockets_after": after,
        "upstream_sockets_leaked": max(0, after - CONCURRENCY),
    }
    problems = []
    failed = Counter(c.problem for c in chats if c.problem)
    if failed:
        common = "; ".join(f"{n}x {p}" for p, n in failed.most_common(2))
        problems.append(f"{sum(failed.values())} of {len(chats)} chats went wrong ({common})")
    slow = sum(1 for s in errors if s > bound)
    if slow:
        problems.append(f"{slow} error events came after more than {bound:g} s")
    if figures["upstream_sockets_leaked"]:
        problems.append(f"{after} upstream connections left open after {len(chats)} chats "
                        f"at most {CONCURRENCY} at a time")
    warm_failed = sum(1 for c in warm if c.problem)
    if warm_failed:
        problems.append(f"{warm_failed} of {len(warm)} normal chats before the faults failed")
    return FaultResult(fault, variant, not problems, figures, "; ".join(problems))


def fault(name: str) -> Callable[[Stack, str], FaultResult]:
    def run_fault(stack: Stack, variant: str) -> FaultResult:
        return run(stack, variant, name)

    run_fault.__name__ = name.replace("-", "_")
    return run_fault


llm_500 = fault("llm-500")
llm_429 = fault("llm-429")
llm_stall = fault("llm-stall")
llm_cut = fault("llm-cut")
llm_malformed = fault("llm-malformed")

WHAT = (f"{CHATS} chats, {CONCURRENCY} at a time: each gets an `error` event within "
        f"LLM_READ_TIMEOUT ({READ_TIMEOUT:g} s) + {MARGIN:g} s, its turn stored")
UPSTREAM_FAULTS: dict[str, tuple[Callable[[Stack, str], FaultResult], str]] = {
    "llm-500": (llm_500, f"the LLM answers 500 to {WHAT} failed; no upstream socket leaks"),
    "llm-429": (llm_429, f"the LLM answers 429 to {WHAT} failed; no upstream socket leaks"),
    "llm-stall": (llm_stall, f"the LLM stalls 30 s (before any token or after 3): {WHAT} "
                  "failed or partial; no upstream socket leaks"),
    "llm-cut": (llm_cut, f"the LLM drops the connection (before any token or after 3): {WHAT} "
                "failed or partial; no upstream socket leaks"),
    "llm-malformed": (llm_malformed, f"the LLM sends a broken chunk (first, or after 4 "
                      f"tokens): {WHAT} failed or partial; no upstream socket leaks"),
}
