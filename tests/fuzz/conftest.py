"""The ASGI app as a real server (the `asgi` variant) on loopback, for the schema fuzzing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_dev.ports import free_port

# Small caps, so generated bodies cross them quickly and the server answers fast.
FUZZ_ENV = {
    "MAX_BODY_BYTES": "65536",
    "CAPTURE_MAX_FRAME_BYTES": "200000",
    "CAPTURE_MAX_FRAMES": "4",
    "LLM_READ_TIMEOUT": "2",
    "LLM_TURN_TIMEOUT": "20",
    "LOG_LEVEL": "ERROR",
}


@pytest.fixture(name="fuzz_server", scope="package")
def _fuzz_server(
    database_url: str, fake_llm_url: str, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fuzz")
    log_path = folder / "server.log"
    port = free_port()
    env = FUZZ_ENV | {"DATABASE_URL": database_url, "LLM_BASE_URL": fake_llm_url,
                      "CAPTURE_DIR": str(folder / "captures")}
    with open(log_path, "wb") as log:
        process = start(VARIANTS["asgi"], port, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            wait_ready(process, port)
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{log_path.read_text()[-3000:]}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
