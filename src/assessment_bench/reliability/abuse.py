"""Client abuse against a real server: a body trickled in (slowloris), bodies far over the
caps, thousands of tiny parts, deeply nested JSON, invalid UTF-8, a wrong content type.

Each fault is `def fault(stack: Stack, variant: str) -> FaultResult` (sync; it runs its own
event loop), starts and stops its own server with short body timeouts, and holds when the
server answers the contract's 4xx within the bound, its memory (the whole process tree, sampled
while the abuse runs) grows less than RSS_BOUND_MB, and /healthz answers after.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from assessment_bench.reliability.rawhttp import (
    PNG_MAGIC,
    Answer,
    chunked,
    exchange,
    multipart,
    request_head,
    slices,
    steady,
    trickle,
)
from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Server, Stack
from assessment_core.settings import Settings

BODY_TIMEOUT = 2.0  # the servers under test get short body timeouts, so a cut comes quickly
UPLOAD_TIMEOUT = 3.0
ENV = {"BODY_TIMEOUT": str(BODY_TIMEOUT), "UPLOAD_IDLE_TIMEOUT": str(BODY_TIMEOUT),
       "UPLOAD_TIMEOUT": str(UPLOAD_TIMEOUT)}
MARGIN = 3.0  # seconds past a timeout a cut may take
QUICK = 5.0  # seconds a refusal that needs no timeout may take (a huge body included)
RSS_BOUND_MB = 64
TRICKLE_INTERVAL = 0.25  # seconds between two bytes of a slowloris body
CROWD = 200  # concurrent slowloris connections
PROBE_BOUND = 1.0  # seconds a normal request may take beside the crowd
MB = 1024 * 1024


@dataclass
class Target:
    """A started server and a session of its own to abuse."""

    server: Server
    session_id: str
    token: str
    limits: Settings

    @property
    def port(self) -> int:
        return self.server.port

    def head(self, method: str, path: str, content_type: str, length: int | None,
             **extra: str) -> bytes:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}
        if length is None:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(length)
        return request_head(method, f"/api/sessions/{self.session_id}{path}", self.port,
                            headers | extra)


@dataclass
class Outcome:
    figures: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


Attack = Callable[[Target], Coroutine[Any, Any, Outcome]]


class RssWatch:
    """The server tree's RSS before, at its peak during, and after the block."""

    def __init__(self, server: Server, interval: float = 0.02) -> None:
        self.server, self.interval = server, interval
        self.before = self.peak = self.after = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.server.rss_bytes())

    def __enter__(self) -> RssWatch:
        self.before = self.peak = self.server.rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = self.server.rss_bytes()
        self.peak = max(self.peak, self.after)


def judge(name: str, answer: Answer, expected: int, code: str, bound: float) -> Outcome:
    """One request's answer against the status, error code and time it should have got."""
    got_code = answer.error_code()
    outcome = Outcome({"status": answer.status, "seconds": round(answer.seconds, 3),
                       "contract_body": int(got_code == code)})
    if answer.status != expected:
        got = f"answered {answer.status}" if answer.status else "no answer"
        why = f" ({answer.error})" if answer.error and not answer.error.startswith("no answer") \
            else ""
        outcome.problems.append(f"{name}: {got} after {answer.seconds:.1f} s{why}, not "
                                f"{expected}")
    elif answer.seconds > bound:
        outcome.problems.append(f"{name}: {expected} only after {answer.seconds:.1f} s "
                                f"(bound {bound:g} s)")
    if answer.status == expected and got_code != code:
        outcome.problems.append(f"{name}: the {expected} did not carry the contract's error "
                                f"body with code {code} (got {answer.body[:80]!r})")
    return outcome


def prepare(server: Server) -> Target:
    """A session, and a few normal requests so that first-use allocations are not counted."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        body = client.post("/api/sessions", json={}).raise_for_status().json()
        auth = {"Authorization": f"Bearer {body['token']}"}
        base = f"/api/sessions/{body['session_id']}"
        for item in range(1, 4):
            client.put(f"{base}/phq/responses/{item}", json={"answer": 1},
                       headers=auth).raise_for_status()
            client.post(f"{base}/captures", headers=auth, data={"capture_type": "face"},
                        files={"frames": ("f.png", PNG_MAGIC + bytes(64), "image/png")},
                        ).raise_for_status()
    return Target(server, body["session_id"], body["token"], Settings())


def healthy(server: Server) -> bool:
    try:
        return httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def run(stack: Stack, variant: str, fault: str, attack: Attack) -> FaultResult:
    """Start the variant, run the attack under an RSS watch, then check the server's health."""
    server = Server(variant, stack, env=ENV)
    server.start()
    try:
        target = prepare(server)
        with RssWatch(server) as rss:
            outcome = asyncio.run(attack(target))
        alive = healthy(server)
    finally:
        server.stop()
    peak_growth = (rss.peak - rss.before) / MB
    figures = outcome.figures | {
        "rss_before_mb": round(rss.before / MB, 1),
        "rss_growth_mb": round(peak_growth, 1),
        "rss_after_growth_mb": round((rss.after - rss.before) / MB, 1),
        "healthy_after": int(alive)}
    problems = list(outcome.problems)
    if peak_growth >= RSS_BOUND_MB:
        problems.append(f"memory grew {peak_growth:.0f} MB (bound {RSS_BOUND_MB} MB)")
    if not alive:
        problems.append("/healthz did not answer 200 afterwards")
    return FaultResult(fault, variant, not problems, figures, "; ".join(problems))


# Slowloris -------------------------------------------------------------------------------------

def answer_body() -> bytes:
    """A valid answer padded with spaces: trickled, it would take a minute to arrive."""
    return b'{"answer": 1' + b" " * 240 + b"}"


async def trickled_json(target: Target, answer_within: float) -> Answer:
    body = answer_body()
    head = target.head("PUT", "/phq/responses/1", "application/json", len(body))
    return await exchange(target.port, head, trickle(body, TRICKLE_INTERVAL), answer_within)


async def _slowloris_json(target: Target) -> Outcome:
    bound = BODY_TIMEOUT + MARGIN
    return judge("slowloris JSON", await trickled_json(target, bound + 1), 408,
                 "BODY_TIMEOUT", bound)


async def _slowloris_upload(target: Target) -> Outcome:
    boundary = "slowloris"
    body = b"".join(multipart(boundary, {"capture_type": "face"}, [PNG_MAGIC + bytes(512)]))
    head = target.head("POST", "/captures", f"multipart/form-data; boundary={boundary}",
                       len(body))
    bound = UPLOAD_TIMEOUT + MARGIN
    answer = await exchange(target.port, head, trickle(body, TRICKLE_INTERVAL), bound + 1)
    return judge("slowloris upload", answer, 408, "BODY_TIMEOUT", bound)


async def _slowloris_crowd(target: Target) -> Outcome:
    """CROWD trickled JSON bodies at once, and a normal request while they hang."""
    bound = BODY_TIMEOUT + MARGIN
    crowd = [asyncio.create_task(trickled_json(target, bound + 1)) for _ in range(CROWD)]
    await asyncio.sleep(0.5)
    body = b"{}"
    head = request_head("POST", "/api/sessions", target.port,
                        {"Content-Type": "application/json", "Content-Length": str(len(body))})
    probe = await exchange(target.port, head, steady([body]), 3 * bound)
    answers = await asyncio.gather(*crowd)
    cut = sum(1 for a in answers if a.status == 408 and a.seconds <= bound)
    outcome = Outcome({"connections": CROWD, "cut": cut, "probe_status": probe.status,
                       "probe_seconds": round(probe.seconds, 3)})
    if cut < CROWD:
        others = sorted({a.status for a in answers if a.status != 408})
        outcome.problems.append(f"{CROWD - cut} of {CROWD} trickling connections were not cut "
                                f"within {bound:g} s (other answers: {others})")
    if probe.status != 201 or probe.seconds > PROBE_BOUND:
        outcome.problems.append(f"a new session beside them answered {probe.status} after "
                                f"{probe.seconds:.1f} s (bound {PROBE_BOUND:g} s)")
    return outcome


# Too large ------------------------------------------------------------------------------------

def huge_answer(limits: Settings) -> bytes:
    """A valid answer padded to three times the JSON cap."""
    size = 3 * limits.max_body_bytes
    return b'{"answer": 1, "padding": "' + b"a" * size + b'"}'


async def _huge_json(target: Target) -> Outcome:
    body = huge_answer(target.limits)
    head = target.head("PUT", "/phq/responses/1", "application/json", len(body))
    answer = await exchange(target.port, head, steady(slices(body)), QUICK * 2)
    return judge("huge JSON", answer, 413, "PAYLOAD_TOO_LARGE", QUICK)


async def _huge_json_chunked(target: Target) -> Outcome:
    body = huge_answer(target.limits)
    head = target.head("PUT", "/phq/responses/1", "application/json", None)
    answer = await exchange(target.port, head, steady(chunked(slices(body))), QUICK * 2)
    return judge("huge chunked JSON", answer, 413, "PAYLOAD_TOO_LARGE", QUICK)


def huge_upload(limits: Settings) -> list[bytes | memoryview]:
    """Frames just under the per-frame cap, enough of them to pass the per-request cap."""
    frame = PNG_MAGIC + bytes(limits.capture_max_frame_bytes - 1024)
    count = limits.capture_max_request_bytes // len(frame) + 1
    return multipart("huge", {"capture_type": "face"}, [frame] * count)


async def _huge_multipart(target: Target) -> Outcome:
    pieces = huge_upload(target.limits)
    head = target.head("POST", "/captures", "multipart/form-data; boundary=huge",
                       sum(len(p) for p in pieces))
    answer = await exchange(target.port, head, steady(pieces), QUICK * 2)
    return judge("huge multipart", answer, 413, "PAYLOAD_TOO_LARGE", QUICK)


async def _huge_multipart_chunked(target: Target) -> Outcome:
    pieces = huge_upload(target.limits)
    head = target.head("POST", "/captures", "multipart/form-data; boundary=huge", None)
    answer = await exchange(target.port, head, steady(chunked(pieces)), QUICK * 2)
    return judge("huge chunked multipart", answer, 413, "PAYLOAD_TOO_LARGE", QUICK)


async def _tiny_parts(target: Target) -> Outcome:
    """5,000 one-word form fields: the parts cap, not the byte cap, must stop them."""
    part = b'--tiny\r\nContent-Disposition: form-data; name="capture_type"\r\n\r\nface\r\n'
    body = part * 5000 + b"--tiny--\r\n"
    head = target.head("POST", "/captures", "multipart/form-data; boundary=tiny", len(body))
    answer = await exchange(target.port, head, steady(slices(body)), QUICK * 2)
    return judge("5,000 tiny parts", answer, 413, "PAYLOAD_TOO_LARGE", QUICK)


# Malformed ------------------------------------------------------------------------------------

async def json_answer(target: Target, body: bytes, content_type: str = "application/json",
                      ) -> Answer:
    head = target.head("PUT", "/phq/responses/1", content_type, len(body))
    return await exchange(target.port, head, steady(slices(body)), QUICK * 2)


async def _nested_json(target: Target) -> Outcome:
    body = b"[" * 100_000 + b"]" * 100_000
    return judge("100,000 nested arrays", await json_answer(target, body), 400,
                 "MALFORMED_JSON", QUICK)


async def _invalid_utf8(target: Target) -> Outcome:
    body = b'{"answer": "\xff\xfe\xfd"}'
    return judge("invalid UTF-8", await json_answer(target, body), 400, "MALFORMED_JSON",
                 QUICK)


async def _wrong_content_type(target: Target) -> Outcome:
    """JSON sent as text/plain to a JSON route, and JSON sent to the upload route."""
    as_text = await json_answer(target, b'{"answer": 1}', "text/plain")
    head = target.head("POST", "/captures", "application/json", 2)
    to_upload = await exchange(target.port, head, steady([b"{}"]), QUICK * 2)
    outcome = judge("text/plain to a JSON route", as_text, 415, "UNSUPPORTED_MEDIA_TYPE",
                    QUICK)
    upload = judge("JSON to the upload route", to_upload, 415, "UNSUPPORTED_MEDIA_TYPE",
                   QUICK)
    outcome.problems += upload.problems
    outcome.figures = {"status_json_route": as_text.status,
                       "status_upload_route": to_upload.status,
                       "contract_body": min(outcome.figures["contract_body"],
                                            upload.figures["contract_body"]),
                       "seconds": round(max(as_text.seconds, to_upload.seconds), 3)}
    return outcome


def fault(name: str, attack: Attack) -> Callable[[Stack, str], FaultResult]:
    def run_fault(stack: Stack, variant: str) -> FaultResult:
        return run(stack, variant, name, attack)

    run_fault.__name__ = name.replace("-", "_")
    run_fault.__doc__ = attack.__doc__
    return run_fault


slowloris_json = fault("slowloris-json", _slowloris_json)
slowloris_upload = fault("slowloris-upload", _slowloris_upload)
slowloris_crowd = fault("slowloris-crowd", _slowloris_crowd)
huge_json = fault("huge-json", _huge_json)
huge_json_chunked = fault("huge-json-chunked", _huge_json_chunked)
huge_multipart = fault("huge-multipart", _huge_multipart)
huge_multipart_chunked = fault("huge-multipart-chunked", _huge_multipart_chunked)
tiny_parts = fault("tiny-parts", _tiny_parts)
nested_json = fault("nested-json", _nested_json)
invalid_utf8 = fault("invalid-utf8", _invalid_utf8)
wrong_content_type = fault("wrong-content-type", _wrong_content_type)

ABUSE_FAULTS: dict[str, tuple[Callable[[Stack, str], FaultResult], str]] = {
    "slowloris-json": (slowloris_json, f"a JSON body sent a byte every {TRICKLE_INTERVAL:g} s "
                       f"is cut with 408 within BODY_TIMEOUT ({BODY_TIMEOUT:g} s) + "
                       f"{MARGIN:g} s"),
    "slowloris-upload": (slowloris_upload, "a multipart upload sent a byte at a time is cut "
                         f"with 408 within UPLOAD_TIMEOUT ({UPLOAD_TIMEOUT:g} s) + "
                         f"{MARGIN:g} s"),
    "slowloris-crowd": (slowloris_crowd, f"{CROWD} trickled JSON bodies at once are all cut "
                        f"with 408, and a new session beside them takes < {PROBE_BOUND:g} s"),
    "huge-json": (huge_json, "a JSON body of 3x MAX_BODY_BYTES with its Content-Length: 413"),
    "huge-json-chunked": (huge_json_chunked, "the same JSON body chunked, no Content-Length: "
                          "413"),
    "huge-multipart": (huge_multipart, "an upload over CAPTURE_MAX_REQUEST_BYTES with its "
                       "Content-Length: 413"),
    "huge-multipart-chunked": (huge_multipart_chunked, "the same upload chunked, no "
                               "Content-Length: 413 once the cap is passed"),
    "tiny-parts": (tiny_parts, "an upload of 5,000 tiny form fields: 413 from the parts cap"),
    "nested-json": (nested_json, "100,000 nested JSON arrays: 400"),
    "invalid-utf8": (invalid_utf8, "a JSON body that is not UTF-8: 400"),
    "wrong-content-type": (wrong_content_type, "text/plain to a JSON route, JSON to the upload "
                           "route: 415 each"),
}
