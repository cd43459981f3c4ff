"""Every variant as a real server on loopback, for the whole run: the contract suite's targets.

Two more targets keep their frames in an S3-API server (moto's, over real HTTP) instead of a
folder: the ASGI app and the gevent twin with STORAGE_URL=s3://..., each with a CAPTURE_DIR
that must stay empty.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.ports import free_port
from assessment_dev.s3_server import S3Server, running_s3

# Every variant; CONTRACT_VARIANTS="asgi gevent-green" narrows a local run (asgi is the
# reference every other variant is compared with, so it always runs).
_CHOSEN = [v for v in os.environ.get("CONTRACT_VARIANTS", "").split() if v in VARIANTS]
CONTRACT_VARIANTS = ["asgi", *(v for v in _CHOSEN if v != "asgi")] if _CHOSEN else list(VARIANTS)
# Small caps and timeouts, so the suite can cross each of them quickly.
CONTRACT_ENV = {
    "MAX_BODY_BYTES": "65536",
    "CAPTURE_MAX_FRAME_BYTES": "200000",
    "CAPTURE_MAX_FRAMES": "4",
    "LLM_READ_TIMEOUT": "1",
    "LLM_TURN_TIMEOUT": "20",
    "CHAT_TURNS_PER_MINUTE": "8",  # the transcript's eight chats, then a ninth is refused
    "CHAT_KEEPALIVE_SECONDS": "0.25",
    "LOG_LEVEL": "ERROR",
}


# target -> the variant it runs, with its frames in the S3 bucket under the target's prefix.
S3_TARGETS = {"asgi+s3": "asgi", "gevent-tuned+s3": "gevent-tuned"}
S3_BUCKET = "contract-frames"


@dataclass
class ObjectStore:
    server: S3Server
    client: Any  # boto3's, to look at what the apps stored

    def env(self, prefix: str) -> dict[str, str]:
        return self.server.env(f"s3://{S3_BUCKET}/{prefix}")

    def keys(self, prefix: str) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{prefix}/")
        return [item["Key"] for item in listed.get("Contents", [])]


@pytest.fixture(name="object_store", scope="session")
def _object_store() -> Iterator[ObjectStore]:
    with running_s3(S3_BUCKET) as server:
        yield ObjectStore(server, server.client())


@pytest.fixture(name="capture_dirs", scope="session")
def _capture_dirs() -> dict[str, Path]:
    """Each target's CAPTURE_DIR (filled in as the servers start)."""
    return {}


@pytest.fixture(name="contract_servers", scope="session")
def _contract_servers(
    database_url: str, fake_llm_url: str, tmp_path_factory: pytest.TempPathFactory,
    object_store: ObjectStore, capture_dirs: dict[str, Path],
) -> Iterator[dict[str, str]]:
    processes: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    logs: dict[str, Path] = {}
    targets = {name: name for name in CONTRACT_VARIANTS} | {
        target: variant for target, variant in S3_TARGETS.items() if variant in CONTRACT_VARIANTS}
    try:
        for name, variant in targets.items():
            port = free_port()
            folder = tmp_path_factory.mktemp(name.replace("+", "-"))
            logs[name] = folder / "server.log"
            capture_dirs[name] = folder / "captures"
            env = CONTRACT_ENV | {"DATABASE_URL": database_url, "LLM_BASE_URL": fake_llm_url,
                                  "CAPTURE_DIR": str(capture_dirs[name])}
            if name in S3_TARGETS:
                env |= object_store.env(name)
            with open(logs[name], "wb") as log:
                processes[name] = (start(VARIANTS[variant], port, env=env, stdout=log,
                                         stderr=subprocess.STDOUT), port)
        for name, (process, port) in processes.items():
            try:
                wait_ready(process, port)
            except RuntimeError as error:
                raise RuntimeError(f"{name}: {error}\n{logs[name].read_text()[-3000:]}") from None
        yield {name: f"http://127.0.0.1:{port}" for name, (_, port) in processes.items()}
    finally:
        for process, _ in processes.values():
            stop(process)
