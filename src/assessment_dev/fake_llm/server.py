"""The fake LLM's HTTP server (aiohttp): /v1/chat/completions, /v1/models, /_stats."""

from __future__ import annotations

import asyncio
import bisect
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from assessment_dev.fake_llm.profile import HEADER, Profile
from assessment_dev.fake_llm.text import answer_tokens

MODEL = "fake-llm"
# `{{fake-llm: fault=cut,fault_at=3}}` in the last user message overrides the profile too.
DIRECTIVE = re.compile(r"\{\{fake-llm:([^}]*)\}\}")


# Upper edges (ms) of the buckets that count how late each token left against its cadence.
LATENESS_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 250, 500, 1000)


@dataclass
class Stats:
    """Counters the tests and the bench read from GET /_stats."""

    requests: int = 0
    active_streams: int = 0
    completed: int = 0
    disconnected: int = 0  # the client went away before the end
    faults: int = 0
    tokens_sent: int = 0
    # The roles of the last request's messages, so tests can see the prompt's shape.
    last_roles: list[str] = field(default_factory=list)
    # Tokens by how late they left against their stream's cadence: one count per bucket of
    # LATENESS_EDGES_MS, the last for anything later. A busy server sends late; the bench
    # reads the difference over a scenario to know whether the upstream kept its pace.
    lateness_edges_ms: tuple[int, ...] = LATENESS_EDGES_MS
    late_tokens: list[int] = field(default_factory=lambda: [0] * (len(LATENESS_EDGES_MS) + 1))

    def count_lateness(self, seconds: float) -> None:
        self.late_tokens[bisect.bisect_left(LATENESS_EDGES_MS, seconds * 1000)] += 1


PROFILE_KEY = web.AppKey("profile", Profile)
STATS_KEY = web.AppKey("stats", Stats)
RNG_KEY = web.AppKey("rng", random.Random)


def error_json(status: int, message: str, kind: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": str(status)}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def prompt_of(messages: list[dict[str, Any]]) -> str:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def jittered(seconds: float, profile: Profile, rng: random.Random) -> float:
    if profile.jitter:
        seconds *= rng.uniform(1 - profile.jitter, 1 + profile.jitter)
    return seconds


async def wait(seconds: float, profile: Profile, rng: random.Random) -> None:
    seconds = jittered(seconds, profile, rng)
    if seconds > 0:
        await asyncio.sleep(seconds)


class Cadence:
    """A stream's clock: each token is due `gap` after the one before, counted from when the
    stream started, as a model generating at a steady rate sends them. A busy event loop
    sends a late token at once instead of adding its delay to every later one, so a stream
    lasts ttft + (tokens - 1) x gap however loaded this server is."""

    def __init__(self, profile: Profile, rng: random.Random, stats: Stats) -> None:
        self.profile, self.rng, self.stats = profile, rng, stats
        self.loop = asyncio.get_running_loop()
        self.due = self.loop.time()

    def restart(self) -> None:
        """Count from now (after a stall, the tokens resume their pace, not burst)."""
        self.due = self.loop.time()

    async def after(self, seconds: float) -> None:
        self.due += jittered(seconds, self.profile, self.rng)
        delay = self.due - self.loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        self.stats.count_lateness(max(0.0, self.loop.time() - self.due))


async def chat_completions(request: web.Request) -> web.StreamResponse:
    stats = request.app[STATS_KEY]
    stats.requests += 1
    try:
        profile = request.app[PROFILE_KEY].override(request.headers.get(HEADER))
        body = await request.json(loads=orjson.loads)
        messages = body["messages"]
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        stats.last_roles = [str(m.get("role")) for m in messages]
        directive = DIRECTIVE.search(prompt_of(messages))
        if directive:  # a test drives a fault through an app that forwards only the text
            profile = profile.override(directive.group(1).strip())
    except (ValueError, KeyError, TypeError) as error:
        return error_json(400, f"invalid request: {error}", "invalid_request_error")

    rng = request.app[RNG_KEY]
    faulted = profile.fault != "none" and rng.random() < profile.fault_rate
    fault = profile.fault if faulted else "none"
    if fault == "error":
        stats.faults += 1
        response = error_json(profile.status, "injected upstream error", "server_error")
        if profile.status in (429, 503):
            response.headers["Retry-After"] = str(profile.retry_after)
        return response

    model = str(body.get("model") or MODEL)
    tokens = answer_tokens(profile.seed, prompt_of(messages), profile.tokens)
    if not body.get("stream"):
        await wait(profile.ttft + profile.gap * max(0, len(tokens) - 1), profile, rng)
        return web.Response(body=orjson.dumps(whole_answer(model, messages, tokens)),
                            content_type="application/json")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return await stream(request, profile, fault, model, messages, tokens, include_usage)


def whole_answer(model: str, messages: list[dict[str, Any]], tokens: list[str]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": "".join(tokens)}}],
        "usage": usage(messages, tokens),
    }


def usage(messages: list[dict[str, Any]], tokens: list[str]) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
    return {"prompt_tokens": prompt, "completion_tokens": len(tokens),
            "total_tokens": prompt + len(tokens)}


async def stream(
    request: web.Request, profile: Profile, fault: str, model: str,
    messages: list[dict[str, Any]], tokens: list[str], include_usage: bool,
) -> web.StreamResponse:
    stats, rng = request.app[STATS_KEY], request.app[RNG_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    # The chunk's fixed parts are encoded once; per token only the content is encoded.
    header = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
              "created": int(time.time()), "model": model}
    head = orjson.dumps(header)[:-1]
    extra = b',"usage":null' if include_usage else b""

    def chunk(delta: bytes, finish: bytes = b"null") -> bytes:
        return (b"data: " + head + b',"choices":[{"index":0,"delta":' + delta
                + b',"finish_reason":' + finish + b"}]" + extra + b"}\n\n")

    stats.active_streams += 1
    finished = False
    try:
        cadence = Cadence(profile, rng, stats)
        await response.write(chunk(b'{"role":"assistant","content":""}'))
        await cadence.after(profile.ttft)
        for index, token in enumerate(tokens):
            if index == profile.fault_at and fault != "none":
                stats.faults += 1
                if fault == "stall":
                    await asyncio.sleep(profile.stall)
                    cadence.restart()
                elif fault == "cut":
                    assert request.transport is not None
                    request.transport.abort()  # no chunked terminator: a broken stream
                    return response
                elif fault == "malformed":
                    await response.write(b'data: {"choices": [{"delta": {"content": "\n\n')
            if index:
                await cadence.after(profile.gap)
            await response.write(chunk(b'{"content":' + orjson.dumps(token) + b"}"))
            stats.tokens_sent += 1
        await response.write(chunk(b"{}", b'"stop"'))
        if include_usage:
            final = header | {"choices": [], "usage": usage(messages, tokens)}
            await response.write(b"data: " + orjson.dumps(final) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        finished = True
        stats.completed += 1
        return response
    finally:
        stats.active_streams -= 1
        if not finished and fault != "cut":
            stats.disconnected += 1


async def models(request: web.Request) -> web.Response:
    body = {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0,
                                        "owned_by": "assessment-async"}]}
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def stats_view(request: web.Request) -> web.Response:
    return web.Response(body=orjson.dumps(vars(request.app[STATS_KEY])),
                        content_type="application/json")


def make_app(profile: Profile) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[PROFILE_KEY] = profile
    app[STATS_KEY] = Stats()
    app[RNG_KEY] = random.Random(profile.seed)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/_stats", stats_view)
    return app


async def serve(profile: Profile, host: str, port: int) -> None:
    """Serve until cancelled. Handlers are cancelled when their client disconnects."""
    runner = web.AppRunner(make_app(profile), handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
