"""Every variant as a real server on loopback, for the whole run: the contract suite's targets."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.ports import free_port

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


@pytest.fixture(name="contract_servers", scope="session")
def _contract_servers(
    database_url: str, fake_llm_url: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    processes: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    logs: dict[str, Path] = {}
    try:
        for name in CONTRACT_VARIANTS:
            port = free_port()
            folder = tmp_path_factory.mktemp(name)
            logs[name] = folder / "server.log"
            env = CONTRACT_ENV | {"DATABASE_URL": database_url, "LLM_BASE_URL": fake_llm_url,
                                  "CAPTURE_DIR": str(folder / "captures")}
            with open(logs[name], "wb") as log:
                processes[name] = (start(VARIANTS[name], port, env=env, stdout=log,
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
