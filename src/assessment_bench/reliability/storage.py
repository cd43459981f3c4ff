"""Frame store faults, on both backends. A folder that fills up must refuse the batch that
does not fit (507 STORAGE_FULL), keep every batch it acknowledged, and say so at /readyz. An
object store that goes down must be answered 503 STORAGE_UNAVAILABLE with Retry-After and no
rows, said so at /readyz, and served again when it is back, every acknowledged frame intact.
One that is slow must slow its uploads only: answers saved beside them stay quick.

The stores are real: CAPTURE_DIR on a tmpfs of STORE_MB (mounting needs root, as the bench's
other privileged steps do), filled by batches of two noise PNGs until it refuses; moto's S3
server on loopback, stopped and started again on its port (its objects live in this
process, so they outlast the outage), or reached through the bench's delay proxy.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
from collections.abc import Callable

import httpx

from assessment_bench.load.delay_proxy import running as delay_proxy
from assessment_bench.load.uploads import big_png
from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Server, Stack
from assessment_dev.s3_server import S3Server, running_s3

STORE_MB = 4
FRAME_MB = 0.45  # two per batch: the store is full after four batches or so
BATCHES = 14  # past full, so the refusals are seen too


def multipart_body(frames: list[bytes]) -> tuple[bytes, dict[str, str]]:
    boundary = "store-fault"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="capture_type"\r\n\r\n'
             "face\r\n".encode()]
    for number, data in enumerate(frames):
        parts += [f'--{boundary}\r\nContent-Disposition: form-data; name="frames"; '
                  f'filename="f{number}.png"\r\nContent-Type: image/png\r\n\r\n'.encode(),
                  data, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def disk_full(stack: Stack, variant: str) -> FaultResult:
    mount = stack.workdir / f"{variant}-full-store"
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={STORE_MB}m", "tmpfs", str(mount)],
                   check=True)
    try:
        server = Server(variant, stack, env={"CAPTURE_DIR": str(mount), "LOG_LEVEL": "ERROR"})
        server.start()
        try:
            figures, problems = fill(server)
        finally:
            server.stop()
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    return FaultResult("disk-full", variant, not problems, figures, "; ".join(problems))


def fill(server: Server) -> tuple[dict[str, float], list[str]]:
    acknowledged: dict[str, str] = {}  # capture id -> sha256, of every 201
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        base, auth = new_session(http)
        for batch in range(BATCHES):
            answer = upload(http, base, auth, seed=2 * batch)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            if answer.status_code == 201:
                acknowledged |= {c["capture_id"]: c["sha256"] for c in answer.json()["captures"]}
            elif answer.status_code == 507 and answer.json()["error"]["code"] != "STORAGE_FULL":
                statuses[-1] = statuses.get(-1, 0) + 1  # a 507 that is not the contract's
        ready = http.get("/readyz").json()
        listed = {c["capture_id"] for c in http.get(f"{base}/captures", headers=auth).json()}
        present = kept(http, base, auth, acknowledged)
    lost = len(acknowledged) - present
    figures: dict[str, float] = {"acknowledged": len(acknowledged), "present": present,
                                 "lost": lost,
               "refused_507": statuses.get(507, 0), "rows": len(listed),
               "readyz_full": int(ready.get("storage") == "full")}
    problems = []
    if lost:
        problems.append(f"{lost} acknowledged frames are missing or changed")
    if statuses.get(507, 0) == 0:
        problems.append(f"the full store was never answered 507 (answers: {statuses})")
    if set(statuses) - {201, 507}:
        problems.append(f"answers other than 201 and 507 STORAGE_FULL: {statuses} (-1: a "
                        "507 with another code)")
    if len(listed) != len(acknowledged):
        problems.append(f"{len(listed)} rows for {len(acknowledged)} acknowledged frames: a "
                        "refused batch left rows behind")
    if not figures["readyz_full"]:
        problems.append(f"/readyz did not say the store is full: {ready}")
    return figures, problems


BUCKET = "fault-frames"
SLOW_MS = 150  # the delay proxy's, each way, per chunk


def s3_env(server: S3Server, variant: str) -> dict[str, str]:
    return server.env(f"s3://{BUCKET}/{variant}") | {"LOG_LEVEL": "ERROR"}


def new_session(http: httpx.Client) -> tuple[str, dict[str, str]]:
    session = http.post("/api/sessions", json={}).json()
    return (f"/api/sessions/{session['session_id']}",
            {"Authorization": f"Bearer {session['token']}"})


def upload(http: httpx.Client, base: str, auth: dict[str, str], seed: int) -> httpx.Response:
    body, headers = multipart_body([big_png(FRAME_MB, seed=seed + n) for n in range(2)])
    return http.post(f"{base}/captures", content=body, headers=auth | headers)


def kept(http: httpx.Client, base: str, auth: dict[str, str],
         acknowledged: dict[str, str]) -> int:
    """How many acknowledged frames read back byte for byte."""
    return sum(hashlib.sha256(http.get(f"{base}/captures/{cid}", headers=auth).content
                              ).hexdigest() == sha for cid, sha in acknowledged.items())


def s3_down(stack: Stack, variant: str) -> FaultResult:
    problems: list[str] = []
    with running_s3(BUCKET) as store:
        server = Server(variant, stack, env=s3_env(store, variant))
        server.start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as http:
                base, auth = new_session(http)
                acknowledged: dict[str, str] = {}
                for batch in range(2):
                    answer = upload(http, base, auth, seed=10 * batch)
                    if answer.status_code != 201:
                        problems.append(f"before the outage, an upload answered "
                                        f"{answer.status_code}")
                        continue
                    acknowledged |= {c["capture_id"]: c["sha256"]
                                     for c in answer.json()["captures"]}
                store.stop()
                refused = upload(http, base, auth, seed=90)
                error = refused.json().get("error", {}) if refused.headers.get(
                    "content-type", "").startswith("application/json") else {}
                ready_down = http.get("/readyz").json()
                rows_down = len(http.get(f"{base}/captures", headers=auth).json())
                store.start()  # on the same port, with the objects it had
                again = upload(http, base, auth, seed=70)
                if again.status_code == 201:
                    acknowledged |= {c["capture_id"]: c["sha256"]
                                     for c in again.json()["captures"]}
                present = kept(http, base, auth, acknowledged)
                ready_back = http.get("/readyz").json()
        finally:
            server.stop()
    if (refused.status_code, error.get("code")) != (503, "STORAGE_UNAVAILABLE"):
        problems.append(f"the upload while S3 was down answered {refused.status_code} "
                        f"{error.get('code')}")
    elif "retry-after" not in refused.headers:
        problems.append("the 503 had no Retry-After")
    if rows_down != 4:
        problems.append(f"{rows_down} rows during the outage for 4 acknowledged frames")
    if ready_down.get("storage") != "unavailable":
        problems.append(f"/readyz during the outage: {ready_down}")
    if again.status_code != 201 or ready_back.get("storage") != "ok":
        problems.append(f"once S3 was back: upload {again.status_code}, /readyz {ready_back}")
    lost = len(acknowledged) - present
    if lost:
        problems.append(f"{lost} acknowledged frames missing or changed")
    figures: dict[str, float] = {"acknowledged": len(acknowledged), "present": present,
                                 "lost": lost, "refused_status": refused.status_code}
    return FaultResult("s3-down", variant, not problems, figures, "; ".join(problems))


def s3_slow(stack: Stack, variant: str) -> FaultResult:
    """Four uploads at once through a store SLOW_MS away per chunk, and answers saved beside
    them: the uploads take longer, the saves do not wait for them."""
    problems: list[str] = []
    with running_s3(BUCKET) as store, \
            delay_proxy(store.endpoint.removeprefix("http://"), SLOW_MS) as proxied:
        slow = s3_env(store, variant) | {"AWS_ENDPOINT_URL": f"http://{proxied}"}
        server = Server(variant, stack, env=slow)
        try:
            server.start()
            with httpx.Client(base_url=server.url, timeout=120) as http:
                sessions = [new_session(http) for _ in range(5)]
                answers: list[httpx.Response] = []

                def send(index: int) -> None:
                    base, auth = sessions[index]
                    with httpx.Client(base_url=server.url, timeout=120) as own:
                        answers.append(upload(own, base, auth, seed=20 * index))

                uploads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
                started = time.monotonic()
                for thread in uploads:
                    thread.start()
                base, auth = sessions[4]
                saves: list[tuple[int, float]] = []
                while any(t.is_alive() for t in uploads) and len(saves) < 200:
                    begun = time.monotonic()
                    saved = http.put(f"{base}/phq/responses/{len(saves) % 9 + 1}",
                                     headers=auth, json={"answer": 1})
                    saves.append((saved.status_code, time.monotonic() - begun))
                    time.sleep(0.05)
                for thread in uploads:
                    thread.join()
                upload_s = time.monotonic() - started
                acknowledged = {c["capture_id"]: c["sha256"] for a in answers
                                if a.status_code == 201 for c in a.json()["captures"]}
                present = sum(kept(http, b, a, acknowledged) for b, a in sessions[:4]
                              ) if acknowledged else 0
        finally:
            server.stop()
    statuses = sorted(a.status_code for a in answers)
    if statuses != [201] * 4:
        problems.append(f"uploads through the slow store answered {statuses}")
    slowest = max((seconds for _, seconds in saves), default=0.0)
    if not saves or any(status != 200 for status, _ in saves) or slowest > 1.0:
        problems.append(f"saves beside the uploads: {len(saves)}, statuses "
                        f"{sorted({s for s, _ in saves})}, slowest {slowest:.2f} s")
    lost = len(acknowledged) - present
    if lost:
        problems.append(f"{lost} acknowledged frames missing or changed")
    figures: dict[str, float] = {"uploads_s": round(upload_s, 2), "saves": len(saves),
                                 "slowest_save_ms": round(1000 * slowest, 1),
                                 "acknowledged": len(acknowledged), "lost": lost}
    return FaultResult("s3-slow", variant, not problems, figures, "; ".join(problems))


STORAGE_FAULTS: dict[str, tuple[Callable[[Stack, str], FaultResult], str]] = {
    "disk-full": (disk_full, f"frames sent into a {STORE_MB} MB store until it is full: every "
                  "acknowledged frame kept, the batch that does not fit refused with 507 "
                  "STORAGE_FULL and no rows, /readyz says full"),
    "s3-down": (s3_down, "the S3 server stopped between uploads, then started again: the "
                "upload meanwhile answered 503 STORAGE_UNAVAILABLE with Retry-After and no "
                "rows, /readyz says unavailable, then ok; every acknowledged frame kept"),
    "s3-slow": (s3_slow, f"four uploads through an S3 server {SLOW_MS} ms away per chunk: "
                "all stored, and answers saved beside them within 1 s each"),
}
