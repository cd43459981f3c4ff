"""Lifecycle faults: the server stopped or killed, PostgreSQL restarted or gone, under load.

Each fault is a plain function `fault(stack, variant) -> FaultResult` (blocking: it runs its
own event loop, so call it from synchronous code). It starts its own Server, drives the
ledger's clients while the fault happens, stops the server and reads the writes back. Faults
that stop PostgreSQL need `stack.postgres`, a cluster of their own (`dedicated_stack`): never
the one other work shares.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil

from assessment_bench.reliability import ledger
from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Server, Stack
from assessment_core import migrate
from assessment_dev.embedded_db import EmbeddedPostgres
from assessment_dev.ports import free_port, port_is_free

# Both apps give in-flight requests this long after SIGTERM (Hypercorn and Gunicorn settings).
GRACE_SECONDS = 10
RECOVERY_LIMIT = 5.0  # seconds from the database's return to the first 2xx
ANSWER_LIMIT = 5.0  # seconds an API call may take to refuse while the database is down
WARMUP = 1.5  # seconds of load before a fault strikes...
# ...and longer, up to this, until every kind of write was acknowledged once: on a busy
# machine all clients could still be in their first chat turn after WARMUP, and a fault
# would then strike before any frame was written.
WARMUP_LIMIT = 10.0
PROBE_TIMEOUT = httpx.Timeout(10, connect=2)


@contextmanager
def dedicated_stack(workdir: Path, llm_url: str) -> Iterator[Stack]:
    """A stack with its own PostgreSQL (data under workdir, a free port), migrated, for faults
    that stop the database; the cluster is stopped afterwards."""
    postgres = EmbeddedPostgres(workdir / "pg", _port_outside_ephemeral_range())
    postgres.start()
    postgres.preferred_port = postgres.port or postgres.preferred_port  # restarts come back here
    url = postgres.ensure_database("assessment_reliability", fresh=True)
    migrate.upgrade(url)
    try:
        yield Stack(database_url=url, llm_url=llm_url, workdir=workdir, postgres=postgres)
    finally:
        with suppress(RuntimeError):  # already stopped by a fault that failed half-way
            postgres.stop()


def _port_outside_ephemeral_range() -> int:
    """A free port below Linux's ephemeral range (32768 up), which bind(0) never hands out:
    while PostgreSQL is stopped, a free_port() anywhere on the machine must not take it."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        if port_is_free(port):
            return port
    return free_port()


async def under_load(
    server: Server, fault: Callable[[ledger.Ledger], Awaitable[dict[str, float]]],
    after: float = 1.0,
) -> tuple[ledger.Ledger, ledger.Readback, dict[str, float]]:
    """Run the clients, strike with `fault` after the warm-up, run `after` seconds more, stop,
    and read every acknowledged write back."""
    book, stop = ledger.Ledger(), asyncio.Event()
    clients = asyncio.create_task(ledger.drive(server, book, stop))
    try:
        await asyncio.sleep(WARMUP)
        give_up = time.monotonic() + WARMUP_LIMIT - WARMUP
        # The ledger is read, not awaited: a look every 50 ms is soon enough to strike.
        while not book.acked_every_kind() and time.monotonic() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        figures = await fault(book)
        await asyncio.sleep(after)
    finally:
        stop.set()
        await clients
    capture_dir = server.stack.workdir / f"{server.variant}-captures"
    return book, await ledger.readback(book, server.stack.database_url, capture_dir), figures


async def first_ack_after(book: ledger.Ledger, moment: float, limit: float) -> float | None:
    """Seconds from `moment` until a request sent after it was acknowledged (None: not within
    `limit` seconds)."""
    while True:
        acked = book.acked_after(moment)
        if acked and acked[0].ended <= moment + limit:
            return acked[0].ended - moment
        if time.monotonic() >= moment + limit:
            return None
        await asyncio.sleep(0.05)


def _result(fault: str, variant: str, figures: dict[str, float],
            problems: list[str]) -> FaultResult:
    """Passed when nothing went wrong; the note lists what did."""
    return FaultResult(fault, variant, not problems,
                       {k: round(v, 3) for k, v in figures.items()}, "; ".join(problems))


def _named(fault: str, workers: int) -> str:
    return fault if workers == 1 else f"{fault}-{workers}-workers"


def _judged(book: ledger.Ledger, found: ledger.Readback,
            figures: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """The fault's figures with the ledger's counts added, and the problem every ledger fault
    checks first: an acknowledged write that is not there."""
    problems = [f"{found.lost} acknowledged writes lost"] if found.lost else []
    return figures | ledger.figures(book, found), problems


def _not_run(fault: str, variant: str) -> FaultResult:
    return FaultResult(fault, variant, False, {},
                       "not run: the stack has no PostgreSQL this process may stop")


# --- the faults ----------------------------------------------------------------------------

def sigterm_mid_load(stack: Stack, variant: str, *, workers: int = 1) -> FaultResult:
    """SIGTERM the server's process group under load: requests in flight must end with their
    answer within the grace period, and nothing acknowledged may be lost."""
    server = Server(variant, stack, workers=workers)
    server.start()
    process = server.process
    assert process is not None

    async def fault(book: ledger.Ledger) -> dict[str, float]:
        moment = time.monotonic()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            code = await asyncio.to_thread(process.wait, GRACE_SECONDS + 5)
        except subprocess.TimeoutExpired:  # still running: the grace period did not hold
            code = -1000
        exited = time.monotonic() - moment
        in_flight = book.in_flight_at(moment)
        return {"in_flight": len(in_flight),
                "in_flight_turns": sum(r.kind == "turn" for r in in_flight),
                "in_flight_acked": sum(r.outcome == "acked" for r in in_flight),
                "in_flight_cut": sum(r.outcome == "indeterminate" for r in in_flight),
                "seconds_to_exit": exited, "exit_code": code,
                "cut_after_sigterm": sum(r.outcome == "indeterminate" and r.started > moment
                                         for r in book.requests)}

    try:
        book, found, figures = asyncio.run(under_load(server, fault, after=0.2))
    finally:
        server.stop()
    figures, problems = _judged(book, found, figures)
    if figures["in_flight_cut"]:
        problems.append(f"{figures['in_flight_cut']:.0f} of {figures['in_flight']:.0f} "
                        "requests in flight were cut without an answer")
    if figures["exit_code"] == -1000:
        problems.append(f"still running {GRACE_SECONDS + 5} s after SIGTERM")
    elif figures["exit_code"] not in (0, -signal.SIGTERM):  # Uvicorn re-raises the signal
        problems.append(f"exited with {figures['exit_code']:.0f}")
    if figures["in_flight"] == 0:
        problems.append("no request was in flight at SIGTERM: nothing was tested")
    return _result(_named("sigterm-mid-load", workers), variant, figures, problems)


def sigkill_worker(stack: Stack, variant: str, *, workers: int = 1) -> FaultResult:
    """SIGKILL a worker (the process itself when there is no master) under load; restart the
    server if it does not serve again by itself; nothing acknowledged may be lost.

    With workers=1 the ASGI servers are one process (as deployed), restarted from outside as
    a supervisor would; with a master (Gunicorn, Granian, or workers=2) the master must start
    a new worker by itself.
    """
    server = Server(variant, stack, workers=workers)
    server.start()
    root = server.processes()[0]
    before = _workers(server)
    victim = before[0] if before else root

    async def fault(book: ledger.Ledger) -> dict[str, float]:
        moment = time.monotonic()
        victim.kill()
        replaced = back = None
        if victim is not root:  # the master should start a new worker
            replaced = await _replaced(server, victim.pid, len(before), moment, 10)
            back = await first_ack_after(book, moment, 10)
        restarted = 0.0
        if back is None:  # nothing serves: restart it from outside, as a supervisor would
            await asyncio.to_thread(server.stop, 5)
            await asyncio.to_thread(server.start)
            restarted = 1.0
            back = await first_ack_after(book, moment, 30)
        in_flight = book.in_flight_at(moment)
        return {"killed_worker": float(victim is not root), "restarted": restarted,
                "seconds_to_replace_worker": replaced if replaced is not None else -1,
                "seconds_to_serve_again": back if back is not None else -1,
                "in_flight": len(in_flight),
                "in_flight_cut": sum(r.outcome == "indeterminate" for r in in_flight)}

    try:
        book, found, figures = asyncio.run(under_load(server, fault))
    finally:
        server.stop()
    figures, problems = _judged(book, found, figures)
    if figures["seconds_to_serve_again"] < 0:
        problems.append("did not serve again, even after a restart")
    if figures["killed_worker"] and figures["seconds_to_replace_worker"] < 0:
        problems.append("its master did not start a new worker within 10 s"
                        + (": the server had to be restarted" if figures["restarted"] else ""))
    return _result(_named("sigkill-worker", workers), variant, figures, problems)


def _workers(server: Server) -> list[psutil.Process]:
    """The server's worker processes (none when it is a single process)."""
    # Gunicorn's and Granian's masters fork workers; multiprocessing helpers are not workers.
    return [p for p in server.processes()[1:]
            if "resource_tracker" not in " ".join(p.cmdline())]


async def _replaced(server: Server, dead: int, count: int, moment: float,
                    limit: float) -> float | None:
    """Seconds until the server again runs `count` workers besides the `dead` one."""
    while time.monotonic() < moment + limit:
        try:
            alive = [p for p in _workers(server) if p.pid != dead and p.is_running()
                     and p.status() != psutil.STATUS_ZOMBIE]
        except psutil.Error:  # a process ended while we looked
            alive = []
        if len(alive) >= count:
            return time.monotonic() - moment
        await asyncio.sleep(0.05)
    return None


def postgres_restart(stack: Stack, variant: str) -> FaultResult:
    """Restart PostgreSQL under load: nothing acknowledged may be lost, and writes must be
    acknowledged again within 5 s of its return, without restarting the app."""
    postgres = stack.postgres
    if postgres is None:
        return _not_run("postgres-restart", variant)
    server = Server(variant, stack)
    server.start()
    pid = server.process.pid if server.process else 0

    async def fault(book: ledger.Ledger) -> dict[str, float]:
        port = postgres.port
        started = time.monotonic()
        await asyncio.to_thread(postgres.stop, "fast")
        await asyncio.to_thread(postgres.start)
        moment = time.monotonic()
        if postgres.port != port:
            raise RuntimeError(f"PostgreSQL came back on port {postgres.port}, not {port}")
        back = await first_ack_after(book, moment, 15)
        until = moment + (back if back is not None else 15)
        during = Counter(r.detail for r in book.requests
                         if r.outcome == "failed" and started <= r.ended <= until)
        return {"seconds_down": moment - started,
                "seconds_to_recover": back if back is not None else -1,
                "failed_503_while_down": during["503"],
                "failed_other_while_down": sum(n for k, n in during.items()
                                               if k.isdigit() and k != "503"),
                "turns_not_saved": during["event TURN_NOT_SAVED"]}

    async def run() -> tuple[ledger.Ledger, ledger.Readback, dict[str, float]]:
        book, found, figures = await under_load(server, fault)
        # A turn whose end could not be stored must not keep its session from chatting on.
        cut = {r.session_id for r in book.requests if r.detail == "event TURN_NOT_SAVED"}
        answers = await asyncio.gather(*(_chat_once(server.url, sid, book.tokens[sid])
                                         for sid in cut))
        figures["sessions_refused_a_chat_after"] = answers.count("TURN_IN_PROGRESS")
        return book, found, figures

    try:
        book, found, figures = asyncio.run(run())
        same_process = server.process is not None and server.process.pid == pid \
            and server.process.poll() is None
    finally:
        server.stop()
        postgres.start()
    figures, problems = _judged(book, found, figures)
    if not 0 <= figures["seconds_to_recover"] <= RECOVERY_LIMIT:
        problems.append(f"no write acknowledged within {RECOVERY_LIMIT:.0f} s of PostgreSQL's "
                        "return")
    if not same_process:
        problems.append("the server process did not survive the restart")
    if figures["failed_other_while_down"]:
        problems.append(f"{figures['failed_other_while_down']:.0f} answers other than 503 "
                        "while it was down")
    if figures["sessions_refused_a_chat_after"]:
        problems.append(f"{figures['sessions_refused_a_chat_after']:.0f} sessions whose turn "
                        "was cut by the restart could not chat again after it (TURN_IN_PROGRESS)")
    return _result("postgres-restart", variant, figures, problems)


async def _chat_once(url: str, sid: str, token: str) -> str:
    """The error code a chat gets, or its status when it is not an error."""
    async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as http:
        response = await http.post(f"{url}/api/sessions/{sid}/chat", json={"message": "again"},
                                   headers={"Authorization": f"Bearer {token}"})
    if response.is_success:
        return str(response.status_code)
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return str(response.status_code)


def database_outage(stack: Stack, variant: str) -> FaultResult:
    """Stop PostgreSQL: /readyz and every API call must answer 503 with Retry-After and the
    contract's error shape, quickly; start it again: the first 2xx must come within 5 s."""
    postgres = stack.postgres
    if postgres is None:
        return _not_run("database-outage", variant)
    server = Server(variant, stack)
    server.start()
    try:
        figures, problems = asyncio.run(_outage(server, postgres))
    finally:
        server.stop()
        postgres.start()  # a no-op when it runs; back up when the fault broke off half-way
    return _result("database-outage", variant, figures, problems)


async def _outage(server: Server, postgres: EmbeddedPostgres) -> tuple[dict[str, float],
                                                                       list[str]]:
    pid = server.process.pid if server.process else 0
    async with httpx.AsyncClient(base_url=server.url, timeout=PROBE_TIMEOUT) as http:
        session = (await http.post("/api/sessions", json={})).json()
        sid, auth = session["session_id"], {"Authorization": f"Bearer {session['token']}"}
        probes = _probes(sid, auth)
        # Warm the pool with as many connections as a burst uses, so dead ones are in it.
        await asyncio.gather(*(probes["answer"](http) for _ in range(16)))

        await asyncio.to_thread(postgres.stop, "fast")
        answers: list[Probe] = []
        until = time.monotonic() + 3
        while time.monotonic() < until:
            for name, probe in probes.items():
                answers.append(await _timed(name, probe, http))
            burst = [_timed("answer", probes["answer"], http) for _ in range(16)]
            answers.extend(await asyncio.gather(*burst))

        await asyncio.to_thread(postgres.start)
        moment = time.monotonic()
        recovered, ready = -1.0, -1.0
        while time.monotonic() < moment + 15 and min(recovered, ready) < 0:
            if recovered < 0:
                answer = (await _timed("answer", probes["answer"], http)).answer
                if answer is not None and answer.is_success:
                    recovered = time.monotonic() - moment
            if ready < 0:
                answer = (await _timed("readyz", probes["readyz"], http)).answer
                if answer is not None and answer.status_code == 200:
                    ready = time.monotonic() - moment
            await asyncio.sleep(0.05)
    same_process = server.process is not None and server.process.pid == pid \
        and server.process.poll() is None
    return _judge(answers, recovered, ready, same_process)


@dataclass
class Probe:
    name: str
    seconds: float
    answer: httpx.Response | None
    error: str = ""  # why no answer came


def _probes(sid: str, auth: dict[str, str]) -> dict[str, Callable[[httpx.AsyncClient],
                                                                  Awaitable[httpx.Response]]]:
    frame = ledger.frame(random.Random(0))
    base = f"/api/sessions/{sid}"
    return {
        "readyz": lambda http: http.get("/readyz"),
        "create_session": lambda http: http.post("/api/sessions", json={}),
        "answer": lambda http: http.put(f"{base}/phq/responses/3", json={"answer": 2},
                                        headers=auth),
        "read_answers": lambda http: http.get(f"{base}/phq", headers=auth),
        "chat": lambda http: http.post(f"{base}/chat", json={"message": "hello"}, headers=auth),
        "frames": lambda http: http.post(f"{base}/captures", data={"capture_type": "face"},
                                         files=[("frames", ("f.jpg", frame, "image/jpeg"))],
                                         headers=auth),
    }


async def _timed(name: str, probe: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
                 http: httpx.AsyncClient) -> Probe:
    started = time.monotonic()
    try:
        answer: httpx.Response | None = await probe(http)
        error = ""
    except httpx.HTTPError as failure:
        answer, error = None, type(failure).__name__  # a hang (timeout) or a dropped connection
    return Probe(name, time.monotonic() - started, answer, error)


def _contract_503(answer: httpx.Response, readiness: bool) -> bool:
    """503 with a Retry-After and, for the API, {"error": {"code", "message", "details"}}."""
    if answer.status_code != 503 or not answer.headers.get("Retry-After", "").isdigit():
        return False
    if readiness:
        return True
    try:
        error: Any = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return (error.get("code") == "DATABASE_UNAVAILABLE" and isinstance(error.get("message"), str)
            and isinstance(error.get("details"), list))


def _judge(answers: list[Probe], recovered: float, ready: float,
           same_process: bool) -> tuple[dict[str, float], list[str]]:
    def contract(p: Probe) -> bool:
        return p.answer is not None and _contract_503(p.answer, p.name == "readyz")

    readyz = [p for p in answers if p.name == "readyz"]
    api = [p for p in answers if p.name != "readyz"]
    bad = sorted({f"{p.name}: {p.answer.status_code if p.answer is not None else p.error}"
                  for p in answers if not contract(p)})
    figures = {
        "probes": len(answers),
        "readyz_503": sum(map(contract, readyz)),
        "readyz_probes": len(readyz),
        "api_503": sum(map(contract, api)),
        "api_probes": len(api),
        "no_answer": sum(p.answer is None for p in answers),
        "slowest_answer_seconds": max(p.seconds for p in answers),
        "seconds_to_recover": recovered,
        "seconds_to_ready": ready,
    }
    problems = []
    if bad:
        problems.append("not a contract 503 during the outage: " + ", ".join(bad))
    if figures["slowest_answer_seconds"] > ANSWER_LIMIT:
        problems.append(f"an answer took {figures['slowest_answer_seconds']:.1f} s")
    if not 0 <= recovered <= RECOVERY_LIMIT:
        problems.append(f"no 2xx within {RECOVERY_LIMIT:.0f} s of the database's return")
    if not 0 <= ready <= RECOVERY_LIMIT:
        problems.append(f"/readyz not 200 within {RECOVERY_LIMIT:.0f} s of the database's return")
    if not same_process:
        problems.append("the server process did not survive the outage")
    return figures, problems


LIFECYCLE_FAULTS: dict[str, tuple[Callable[[Stack, str], FaultResult], str]] = {
    "sigterm-mid-load": (sigterm_mid_load, "SIGTERM under load: in-flight requests finish "
                         "within the grace period, nothing acknowledged is lost"),
    "sigterm-mid-load-2-workers": (partial(sigterm_mid_load, workers=2), "the same with a "
                                   "master and two workers"),
    "sigkill-worker": (sigkill_worker, "SIGKILL a worker (or the only process) under load, "
                       "restart if there is no master: nothing acknowledged is lost"),
    "sigkill-worker-2-workers": (partial(sigkill_worker, workers=2), "the same with two "
                                 "workers: the master must replace the dead one by itself"),
    "postgres-restart": (postgres_restart, "restart PostgreSQL under load: nothing acknowledged "
                         "is lost, writes succeed again within 5 s"),
    "database-outage": (database_outage, "PostgreSQL down: 503 + Retry-After in the contract's "
                        "shape, no hang; back within 5 s of its return, no app restart"),
}
# Faults that stop PostgreSQL: they need Stack.postgres (see dedicated_stack).
NEEDS_OWN_POSTGRES = {"postgres-restart", "database-outage"}
