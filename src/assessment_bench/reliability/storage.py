"""Frame store faults: a store that fills up must refuse the batch that does not fit (507
STORAGE_FULL), keep every batch it acknowledged, and say so at /readyz.

The store is real: CAPTURE_DIR on a tmpfs of STORE_MB (mounting needs root, as the bench's
other privileged steps do), filled by batches of two noise PNGs until it refuses.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable

import httpx

from assessment_bench.load.uploads import big_png
from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Server, Stack

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
        session = http.post("/api/sessions", json={}).json()
        auth = {"Authorization": f"Bearer {session['token']}"}
        base = f"/api/sessions/{session['session_id']}"
        for batch in range(BATCHES):
            body, headers = multipart_body([big_png(FRAME_MB, seed=2 * batch + n)
                                            for n in range(2)])
            answer = http.post(f"{base}/captures", content=body, headers=auth | headers)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            if answer.status_code == 201:
                acknowledged |= {c["capture_id"]: c["sha256"] for c in answer.json()["captures"]}
            elif answer.status_code == 507 and answer.json()["error"]["code"] != "STORAGE_FULL":
                statuses[-1] = statuses.get(-1, 0) + 1  # a 507 that is not the contract's
        ready = http.get("/readyz").json()
        listed = {c["capture_id"] for c in http.get(f"{base}/captures", headers=auth).json()}
        present = sum(
            hashlib.sha256(http.get(f"{base}/captures/{cid}", headers=auth).content).hexdigest()
            == sha for cid, sha in acknowledged.items())
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


STORAGE_FAULTS: dict[str, tuple[Callable[[Stack, str], FaultResult], str]] = {
    "disk-full": (disk_full, f"frames sent into a {STORE_MB} MB store until it is full: every "
                  "acknowledged frame kept, the batch that does not fit refused with 507 "
                  "STORAGE_FULL and no rows, /readyz says full"),
}
