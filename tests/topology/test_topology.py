"""The deployment past one machine, on loopback, without Docker: two replicas of the ASGI app
behind nginx (deploy/nginx), PgBouncer in transaction mode (deploy/pgbouncer) in front of the
test PostgreSQL, frames in an S3-API server (moto's). What docker-compose.yml runs, tested.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.ports import free_port
from assessment_dev.s3_server import running_s3
from assessment_dev.topology import running_nginx, running_pgbouncer
from tests.conftest import empty_sessions
from tests.contract.conftest import CONTRACT_ENV
from tests.contract.transcript import walk
from tests.images import frame, multipart

BUCKET = "topology-frames"


@dataclass
class Replica:
    name: str
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = self.env | {"METRICS_PORT": str(self.metrics_port)}
        with open(self.log, "ab") as log:
            self.process = start(VARIANTS["asgi"], self.port, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            wait_ready(self.process, self.port)
        except RuntimeError as error:
            raise RuntimeError(f"{self.name}: {error}\n{self.log.read_text()[-3000:]}") from None

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@dataclass
class Topology:
    proxy: str  # nginx's base URL
    replicas: list[Replica]
    database_url: str  # PostgreSQL itself, to look at what was stored
    s3: Any  # boto3's client


@pytest.fixture(name="topology", scope="module")
def _topology(database_url: str, fake_llm_url: str,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    folder = tmp_path_factory.mktemp("topology")
    replicas: list[Replica] = []
    with running_s3(BUCKET) as s3, running_pgbouncer(database_url) as pooled_url:
        env = CONTRACT_ENV | s3.env(f"s3://{BUCKET}/frames") | {
            "DATABASE_URL": pooled_url, "DB_STATEMENT_CACHE_SIZE": "0",
            "LLM_BASE_URL": fake_llm_url, "CAPTURE_DIR": str(folder / "no-frames-here")}
        try:
            replicas = [Replica(name, env, folder / f"{name}.log") for name in ("a", "b")]
            for replica in replicas:
                replica.start()
            # The deployment's per-address limit on new sessions has a test of its own (with
            # an nginx of its own); here every test's sessions come from one address.
            with running_nginx([f"127.0.0.1:{r.port}" for r in replicas],
                               session_rate="6000r/m", session_burst=1000) as proxy:
                yield Topology(proxy, replicas, database_url, s3.client())
        finally:
            for replica in replicas:
                if replica.process is not None:
                    stop(replica.process)
            asyncio.run(empty_sessions(database_url))  # the next tests start from none


def new_session(base: str) -> tuple[str, dict[str, str]]:
    session = httpx.post(f"{base}/api/sessions", json={}).json()
    return (f"/api/sessions/{session['session_id']}",
            {"Authorization": f"Bearer {session['token']}"})


def test_the_contract_walked_through_the_proxy_answers_as_a_replica_does(
    topology: Topology,
) -> None:
    direct = walk(topology.replicas[0].url)
    proxied = walk(topology.proxy)
    for expected, got in zip(direct, proxied, strict=True):
        assert got == expected, f"through nginx, step {expected[0]!r} differs"
    # Every frame is in the bucket; the replicas' CAPTURE_DIR was never made.
    listed = topology.s3.list_objects_v2(Bucket=BUCKET, Prefix="frames/").get("Contents", [])
    assert len(listed) >= 6  # three stored frames per walk
    assert not Path(topology.replicas[0].env["CAPTURE_DIR"]).exists()


def test_a_frame_uploaded_through_one_replica_is_downloaded_through_the_other(
    topology: Topology,
) -> None:
    a, b = (replica.url for replica in topology.replicas)
    path, auth = new_session(a)
    data = frame("PNG", size=(64, 64), seed=11)
    body, headers = multipart({"capture_type": "face"}, [("frames", "f.png", "image/png", data)])
    stored = httpx.post(f"{a}{path}/captures", content=body, headers=auth | headers)
    assert stored.status_code == 201, stored.text
    capture = stored.json()["captures"][0]["capture_id"]
    for base in (b, topology.proxy):
        got = httpx.get(f"{base}{path}/captures/{capture}", headers=auth)
        assert (got.status_code, got.content) == (200, data)


def test_two_chats_of_one_session_sent_at_once_to_two_replicas_give_one_stream(
    topology: Topology,
) -> None:
    a, b = (replica.url for replica in topology.replicas)
    path, auth = new_session(a)
    message = {"message": "one at a time {{fake-llm: ttft=0.3}}"}

    def chat(base: str) -> httpx.Response:
        return httpx.post(f"{base}{path}/chat", json=message, headers=auth, timeout=30)

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(chat, (a, b)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 429], [answer.text[:300] for answer in answers]
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.json()["error"]["code"] == "TURN_IN_PROGRESS"
    assert "event: done" in next(a.text for a in answers if a.status_code == 200)


def test_the_chat_rate_limit_holds_across_replicas(topology: Topology) -> None:
    a, b = (replica.url for replica in topology.replicas)
    path, auth = new_session(a)
    limit = int(CONTRACT_ENV["CHAT_TURNS_PER_MINUTE"])
    for turn in range(limit):  # alternating replicas, one turn after another
        answer = httpx.post(f"{(a, b)[turn % 2]}{path}/chat", json={"message": "hi"},
                            headers=auth, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
    over = httpx.post(f"{b}{path}/chat", json={"message": "hi"}, headers=auth, timeout=30)
    assert (over.status_code, over.json()["error"]["code"]) == (429, "CHAT_RATE_LIMITED")


def test_keep_alive_comments_reach_the_participant_through_nginx_as_they_are_sent(
    topology: Topology,
) -> None:
    path, auth = new_session(topology.proxy)
    started = time.monotonic()
    arrivals: list[tuple[float, str]] = []
    with httpx.stream("POST", f"{topology.proxy}{path}/chat", headers=auth, timeout=30,
                      json={"message": "wait {{fake-llm: ttft=0.9}}"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                arrivals.append((time.monotonic() - started, line))
    comments = [at for at, line in arrivals if line.startswith(": waiting")]
    first_token = next(at for at, line in arrivals if line == "event: token")
    # CHAT_KEEPALIVE_SECONDS is 0.25 here: buffered, they would all arrive with the answer.
    assert len(comments) >= 2 and comments[0] < 0.6 < first_token, arrivals[:6]


def test_request_ids_pass_through_the_proxy(topology: Topology) -> None:
    mine = httpx.get(f"{topology.proxy}/healthz", headers={"X-Request-ID": "clinic-7.abc"})
    assert mine.headers["x-request-id"] == "clinic-7.abc"
    # Without one, nginx's own id reaches the app, which answers with it.
    theirs = httpx.get(f"{topology.proxy}/healthz")
    assert len(theirs.headers["x-request-id"]) == 32


def test_metrics_are_on_each_replicas_own_port_and_not_behind_the_proxy(
    topology: Topology,
) -> None:
    for replica in topology.replicas:
        page = httpx.get(f"http://127.0.0.1:{replica.metrics_port}/metrics")
        assert page.status_code == 200 and "http_request_duration_seconds" in page.text
    assert httpx.get(f"{topology.proxy}/metrics").status_code == 404


def test_new_sessions_from_one_address_are_limited_by_the_proxy(topology: Topology) -> None:
    # nginx of its own, with the deployment's limit (SESSION_RATE, SESSION_BURST).
    with running_nginx([f"127.0.0.1:{r.port}" for r in topology.replicas]) as proxy:
        answers = [httpx.post(f"{proxy}/api/sessions", json={}) for _ in range(30)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:20].count(201) == 20  # the burst
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, statuses
    assert refused[0].headers["retry-after"] == "10"
    assert refused[0].json()["error"]["code"] == "TOO_MANY_REQUESTS"


def test_a_replica_killed_under_load_loses_no_acknowledged_answer(topology: Topology) -> None:
    """Saves through nginx from eight clients; replica a is killed midway. Every answer that
    got a 2xx is in PostgreSQL (the ledger: lost = 0), and the saves after the kill are served
    by replica b."""
    sessions = [new_session(topology.proxy) for _ in range(8)]
    # Per (session, item): the last acknowledged answer, and what was sent after it without
    # an answer (a replica may have stored it and died before saying so).
    acknowledged: dict[tuple[str, int], int] = {}
    unanswered: dict[tuple[str, int], set[int]] = {}
    after_kill: list[int] = []
    killed = threading.Event()
    stop_at = time.monotonic() + 6

    def client(index: int) -> None:
        path, auth = sessions[index]
        sid = path.rsplit("/", 1)[1]
        with httpx.Client(base_url=topology.proxy, timeout=10) as http:
            n = 0
            while time.monotonic() < stop_at:
                item, answer = n % 9 + 1, (n + index) % 4
                try:
                    status = http.put(f"{path}/phq/responses/{item}", headers=auth,
                                      json={"answer": answer}).status_code
                except httpx.TransportError:
                    status = 0
                if 200 <= status < 300:
                    acknowledged[(sid, item)] = answer
                    unanswered.pop((sid, item), None)
                else:
                    unanswered.setdefault((sid, item), set()).add(answer)
                if killed.is_set():
                    after_kill.append(status)
                n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    topology.replicas[0].kill()
    killed.set()
    for thread in threads:
        thread.join()
    try:
        assert acknowledged and after_kill
        stored = asyncio.run(stored_answers(topology.database_url,
                                            {sid for sid, _ in acknowledged}))
        lost = {key: answer for key, answer in acknowledged.items()
                if stored.get(key) not in {answer, *unanswered.get(key, ())}}
        assert lost == {}
        # nginx sends the saves to b once a refuses them: the later half all succeed.
        later = after_kill[len(after_kill) // 2:]
        assert all(200 <= status < 300 for status in later), later[:20]
    finally:
        topology.replicas[0].start()  # for any test after this one


async def stored_answers(database_url: str, session_ids: set[str]) -> dict[tuple[str, int], int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT session_id, question_id, answer FROM responses "
            "WHERE session_id = ANY($1::uuid[]) AND instrument = 'phq9'",
            [uuid.UUID(s) for s in session_ids])
    finally:
        await conn.close()
    return {(str(r["session_id"]), r["question_id"]): r["answer"] for r in rows}
