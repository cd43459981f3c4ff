"""The acknowledged-writes ledger: clients write, every 2xx is recorded, then read back.

Each client opens a session and saves its ten answers, one chat turn and one batch of frames,
then opens the next, until told to stop. Every request ends as one of:
- acked: a 2xx (for a chat, the `done` event) - what it acknowledged must be in the database
  (and a frame on disk, with the same sha256);
- failed: an answer that was not a 2xx (or an `error` event) - nothing was promised;
- refused: no connection - the request was never sent;
- indeterminate: sent, but no answer came (reset, cut, timed out) - it may or may not stand.
A client starts a new session after anything but an ack, so one stuck session cannot stall it.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import httpx
from PIL import Image

# Long enough for a chat turn to be in flight when a fault strikes: about 0.6 s of streaming.
CHAT_PROFILE = "{{fake-llm: ttft=0.05,tokens=12,gap=0.05}}"
TIMEOUT = httpx.Timeout(10, connect=2)
FRAMES_PER_BATCH = 2


class Target(Protocol):
    """Where the load goes; read before each request, so a restarted server is followed."""

    @property
    def url(self) -> str: ...


KINDS = ("session", "answer", "turn", "frame")


@dataclass(frozen=True)
class Ack:
    kind: str  # session, answer, turn, frame
    session_id: str
    key: str  # the question id, the turn number, the capture id ("" for a session)
    value: str  # the answer; the turn's status and message; the frame's sha256


@dataclass
class Request:
    kind: str
    started: float  # time.monotonic()
    sent: float = 0.0  # when its headers were on the wire (0: never)
    ended: float = 0.0
    outcome: str = "indeterminate"  # acked, failed, refused, indeterminate
    detail: str = ""  # the status or the error's name
    session_id: str = ""  # the session it wrote to (none for a new session)

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: note when the request's headers were sent."""
        if event == "http11.send_request_headers.complete":
            self.sent = time.monotonic()


@dataclass
class Ledger:
    acks: list[Ack] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # session id -> its bearer token

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.requests if r.outcome == outcome)

    def details(self, outcome: str) -> Counter[str]:
        return Counter(r.detail for r in self.requests if r.outcome == outcome)

    def in_flight_at(self, moment: float) -> list[Request]:
        """Requests on the wire at `moment`: sent before it, not ended by then. One still
        connecting, or queued in the client, is not in flight yet."""
        return [r for r in self.requests
                if 0 < r.sent < moment < (r.ended or float("inf"))]

    def acked_every_kind(self) -> bool:
        """A session, an answer, a turn and a frame have each been acknowledged."""
        return {ack.kind for ack in self.acks} >= set(KINDS)

    def acked_after(self, moment: float) -> list[Request]:
        return sorted((r for r in self.requests if r.outcome == "acked" and r.started > moment),
                      key=lambda r: r.ended)


@dataclass
class Readback:
    acknowledged: int
    present: int
    missing: list[Ack]

    @property
    def lost(self) -> int:
        return self.acknowledged - self.present


def frame(rng: random.Random) -> bytes:
    """A small real JPEG of noise, different every time."""
    image = Image.frombytes("RGB", (32, 24), rng.randbytes(32 * 24 * 3))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return out.getvalue()


class Client:
    """One participant after another, writing until `stop` is set."""

    def __init__(self, target: Target, http: httpx.AsyncClient, ledger: Ledger,
                 stop: asyncio.Event, seed: int) -> None:
        self.target, self.http, self.ledger, self.stop = target, http, ledger, stop
        self.rng = random.Random(seed)

    async def run(self) -> None:
        while not self.stop.is_set():
            if not await self.participant():
                await asyncio.sleep(0.05)  # do not spin on a server that is down

    async def participant(self) -> bool:
        """One session's writes; False as soon as one is not acknowledged."""
        session = await self.send("session", "POST", "/api/sessions", json={})
        if session is None:
            return False
        sid, headers = session["session_id"], {"Authorization": f"Bearer {session['token']}"}
        self.ledger.tokens[sid] = session["token"]
        self.ledger.acks.append(Ack("session", sid, "", ""))
        steps: list[Any] = [("answer", item) for item in range(1, 11)]
        steps[4:4] = [("turn", 0), ("frames", 0)]
        for kind, item in steps:
            if self.stop.is_set():
                return True
            if kind == "answer":
                ok = await self.answer(sid, headers, item)
            elif kind == "turn":
                ok = await self.turn(sid, headers)
            else:
                ok = await self.frames(sid, headers)
            if not ok:
                return False
        return True

    async def answer(self, sid: str, headers: dict[str, str], item: int) -> bool:
        value = self.rng.randint(0, 3)
        body = await self.send("answer", "PUT", f"/api/sessions/{sid}/phq/responses/{item}",
                               sid, json={"answer": value}, headers=headers)
        if body is not None:
            self.ledger.acks.append(Ack("answer", sid, str(item), str(body["answer"])))
        return body is not None

    async def frames(self, sid: str, headers: dict[str, str]) -> bool:
        files = [("frames", (f"f{i}.jpg", frame(self.rng), "image/jpeg"))
                 for i in range(FRAMES_PER_BATCH)]
        body = await self.send("frames", "POST", f"/api/sessions/{sid}/captures", sid,
                               data={"capture_type": "face"}, files=files, headers=headers)
        if body is not None:
            sent = {hashlib.sha256(content).hexdigest() for _, (_, content, _) in files}
            for capture in body["captures"]:
                # An ack that names a hash we never sent is not an ack of our frame.
                value = capture["sha256"] if capture["sha256"] in sent else "not sent"
                self.ledger.acks.append(Ack("frame", sid, capture["capture_id"], value))
        return body is not None

    async def turn(self, sid: str, headers: dict[str, str]) -> bool:
        """A chat turn is acknowledged by its `done` event, which comes after it is stored."""
        message = f"ledger {uuid.uuid4()} {CHAT_PROFILE}"
        request = self.begin("turn", sid)
        try:
            async with self.http.stream("POST", f"{self.target.url}/api/sessions/{sid}/chat",
                                        json={"message": message}, headers=headers,
                                        extensions={"trace": request.trace}) as response:
                if response.status_code != 200:
                    await response.aread()
                    return self.end(request, "failed", str(response.status_code))
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:].strip()
                    elif line.startswith("data: ") and event in ("done", "error"):
                        data = json.loads(line[6:])
                        if event == "error":
                            return self.end(request, "failed", f"event {data.get('code')}")
                        self.ledger.acks.append(Ack("turn", sid, str(data["turn_number"]),
                                                    f"{data['status']} {message}"))
                        return self.end(request, "acked", "done")
                return self.end(request, "indeterminate", "stream ended without done")
        except httpx.HTTPError as error:
            return self.transport_error(request, error)

    async def send(self, kind: str, method: str, path: str, session_id: str = "",
                   **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer, or None (the request is recorded either way)."""
        request = self.begin(kind, session_id)
        try:
            response = await self.http.request(method, f"{self.target.url}{path}",
                                               extensions={"trace": request.trace}, **kwargs)
        except httpx.HTTPError as error:
            self.transport_error(request, error)
            return None
        if not response.is_success:
            self.end(request, "failed", str(response.status_code))
            return None
        self.end(request, "acked", str(response.status_code))
        return response.json()

    def begin(self, kind: str, session_id: str = "") -> Request:
        request = Request(kind, time.monotonic(), session_id=session_id)
        self.ledger.requests.append(request)
        return request

    def end(self, request: Request, outcome: str, detail: str) -> bool:
        request.ended, request.outcome, request.detail = time.monotonic(), outcome, detail
        return outcome == "acked"

    def transport_error(self, request: Request, error: httpx.HTTPError) -> bool:
        # Without a connection the request was never sent; after that, its fate is unknown.
        unsent = isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        return self.end(request, "refused" if unsent else "indeterminate", type(error).__name__)


async def drive(target: Target, ledger: Ledger, stop: asyncio.Event, clients: int = 8) -> None:
    """Run `clients` concurrent clients against `target` until `stop` is set."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=TIMEOUT, limits=limits) as http:
        await asyncio.gather(*(Client(target, http, ledger, stop, seed).run()
                               for seed in range(clients)))


async def readback(ledger: Ledger, database_url: str, capture_dir: Path) -> Readback:
    """Look for every acknowledged write in the database, and every frame on disk too."""
    sessions = list({uuid.UUID(a.session_id) for a in ledger.acks})
    conn = await asyncpg.connect(database_url)
    try:
        rows = {
            "session": await conn.fetch(
                "SELECT id::text, '' AS key, '' AS value FROM sessions WHERE id = ANY($1)",
                sessions),
            "answer": await conn.fetch(
                "SELECT session_id::text AS id, question_id::text AS key, answer::text AS value "
                "FROM responses WHERE session_id = ANY($1)", sessions),
            "turn": await conn.fetch(
                "SELECT session_id::text AS id, turn_number::text AS key, "
                "status || ' ' || user_message AS value FROM chat_turns "
                "WHERE session_id = ANY($1)", sessions),
        }
        captures = await conn.fetch(
            "SELECT session_id::text AS id, id::text AS key, sha256, storage_key "
            "FROM captures WHERE session_id = ANY($1)", sessions)
    finally:
        await conn.close()
    found = {(kind, r["id"], r["key"], r["value"]) for kind, kind_rows in rows.items()
             for r in kind_rows}
    on_disk = await asyncio.gather(*(asyncio.to_thread(_sha256, capture_dir / r["storage_key"])
                                     for r in captures))
    found |= {("frame", r["id"], r["key"], r["sha256"])
              for r, disk in zip(captures, on_disk, strict=True) if disk == r["sha256"]}
    missing = [a for a in ledger.acks if (a.kind, a.session_id, a.key, a.value) not in found]
    return Readback(len(ledger.acks), len(ledger.acks) - len(missing), missing)


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def figures(ledger: Ledger, found: Readback) -> dict[str, float]:
    """The ledger's counts for a FaultResult."""
    acks = Counter(a.kind for a in ledger.acks)
    return {
        "requests": len(ledger.requests),
        "acknowledged": found.acknowledged,
        "present": found.present,
        "lost": found.lost,
        "indeterminate": ledger.count("indeterminate"),
        "failed": ledger.count("failed"),
        "refused": ledger.count("refused"),
        **{f"acked_{kind}s": acks[kind] for kind in KINDS},
    }
