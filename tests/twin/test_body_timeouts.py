"""TWIN_BODY_TIMEOUTS under Gunicorn's gevent and gthread workers: an upload that pauses past
UPLOAD_IDLE_TIMEOUT is answered 408 BODY_TIMEOUT in time on both, and under gevent a JSON
body trickled steadily past BODY_TIMEOUT too (threads check that deadline between reads
only); a body that arrives in time is served, and so is a slow download after it (the
timeouts cover the body only)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.ports import free_port
from tests.conftest import empty_sessions

TIMEOUTS = {"TWIN_BODY_TIMEOUTS": "1", "BODY_TIMEOUT": "1", "UPLOAD_IDLE_TIMEOUT": "1",
            "UPLOAD_TIMEOUT": "3", "LOG_LEVEL": "ERROR"}


@pytest.fixture(name="twin", scope="module", params=["gevent-tuned", "gthread"])
def _twin(request: pytest.FixtureRequest, database_url: str, fake_llm_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    folder = tmp_path_factory.mktemp("body-timeouts")
    port = free_port()
    env = TIMEOUTS | {"DATABASE_URL": database_url, "LLM_BASE_URL": fake_llm_url,
                      "CAPTURE_DIR": str(folder / "captures")}
    with open(folder / "server.log", "wb") as log:
        process = start(VARIANTS[request.param], port, env=env, stdout=log,
                        stderr=subprocess.STDOUT)
    try:
        wait_ready(process, port)
        yield port
    finally:
        stop(process)
        asyncio.run(empty_sessions(database_url))  # the next tests start from none


def session(port: int) -> tuple[str, str]:
    body = httpx.post(f"http://127.0.0.1:{port}/api/sessions", json={}).json()
    return body["session_id"], body["token"]


def trickle(port: int, head: bytes, body: bytes, gap: float, within: float,
            ) -> tuple[float, bytes]:
    """Send the head, then the body a byte every `gap` s, until the server answers; (seconds
    to the answer, the answer)."""
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(head)
        conn.settimeout(gap)
        started = time.monotonic()
        for byte in body:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            try:
                answer = conn.recv(65536)
            except TimeoutError:
                answer = b""
            if answer or time.monotonic() - started > within:
                break
        seconds = time.monotonic() - started
        conn.settimeout(within)
        while not whole(answer):
            more = conn.recv(65536)
            if not more:
                break
            answer += more
        return seconds, answer


def whole(answer: bytes) -> bool:
    """The head and as much body as its Content-Length says."""
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


@pytest.mark.parametrize("twin", ["gevent-tuned"], indirect=True)  # threads: between reads
def test_a_trickled_json_body_is_cut_at_body_timeout(twin: int) -> None:
    sid, token = session(twin)
    body = b'{"answer": 1' + b" " * 100 + b"}"
    head = (f"PUT /api/sessions/{sid}/phq/responses/1 HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    seconds, answer = trickle(twin, head, body, gap=0.2, within=5)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"BODY_TIMEOUT" in answer and seconds < 2.5


def test_an_upload_that_pauses_past_the_idle_timeout_is_cut(twin: int) -> None:
    sid, token = session(twin)
    boundary = "pause"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"capture_type\"\r\n\r\n"
            f"face\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"frames\"; "
            f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode() \
        + b"\x89PNG\r\n\x1a\n" + bytes(64)
    head = (f"POST /api/sessions/{sid}/captures HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", twin)) as conn:
        conn.sendall(head + body)  # then nothing more: a pause past UPLOAD_IDLE_TIMEOUT
        conn.settimeout(5)
        started = time.monotonic()
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - started < 3


def test_bodies_in_time_are_served_and_downloads_are_not_cut(twin: int,
                                                             tmp_path: Path) -> None:
    sid, token = session(twin)
    auth = {"Authorization": f"Bearer {token}"}
    base = f"http://127.0.0.1:{twin}/api/sessions/{sid}"
    saved = httpx.put(f"{base}/phq/responses/2", json={"answer": 3}, headers=auth)
    assert saved.status_code == 200 and saved.json()["answer"] == 3
    from tests.images import frame, multipart

    data = frame("PNG", size=(120, 120), seed=4)  # three reads of 16 KiB, paused between
    body, headers = multipart({"capture_type": "face"}, [("frames", "a.png", "image/png",
                                                          data)])
    stored = httpx.post(f"{base}/captures", content=body, headers=auth | headers)
    assert stored.status_code == 201, stored.text
    capture = stored.json()["captures"][0]["capture_id"]
    # A download read slowly, pausing longer than the body timeouts between reads.
    with httpx.stream("GET", f"{base}/captures/{capture}", headers=auth) as download:
        got = b""
        for chunk in download.iter_raw(16384):
            got += chunk
            time.sleep(1.2)
    assert got == data
    assert json.loads(httpx.get(f"{base}/phq/responses", headers=auth).text)
