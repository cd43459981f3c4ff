"""Start the fake LLM as its own process and wait until it answers (CLI, tests, bench)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from assessment_dev.ports import free_port
from assessment_dev.processes import stop


@contextmanager
def running_fake_llm(
    *flags: str, host: str = "127.0.0.1", port: int | None = None,
    prefix: tuple[str, ...] = (),
) -> Iterator[str]:
    """Yield its base URL (ending in /v1) while it runs; `flags` are its profile flags.

    `prefix` goes before the command, e.g. ("taskset", "-c", "1") to pin it to a core.
    """
    port = port or free_port(host)
    # Its log goes to a file, never a pipe nobody reads (a full pipe would stall it).
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        [*prefix, sys.executable, "-m", "assessment_dev.fake_llm", "--host", host,
         "--port", str(port), *flags],
        stdout=subprocess.DEVNULL, stderr=log, text=True,
    )
    base_url = f"http://{host}:{port}/v1"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the fake LLM exited: {log.read()[-2000:]}")
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the fake LLM did not start within 20 s")
            time.sleep(0.1)
        yield base_url
    finally:
        stop(process)
        log.close()
