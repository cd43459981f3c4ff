"""What these one-off measurement scripts share: the database, the pinned app process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import httpx
import psutil

from assessment_async.config import Settings
from assessment_async.embedded_db import EmbeddedPostgres
from assessment_bench.runner import OTHER_CORES, SERVER_CORE

__all__ = ["OTHER_CORES", "SERVER_CORE", "PeakRss", "database_url", "pin_self", "start_app"]


def pin_self() -> None:
    """Keep this process (the load generator) off the server's core."""
    os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)) or {0})


def database_url() -> str:
    """DATABASE_URL, or a bench database on the embedded server (started if needed)."""
    settings = Settings()
    if settings.database_url:
        return settings.database_url
    server = EmbeddedPostgres(settings.data_dir, settings.embedded_pg_port)
    server.start()
    return server.ensure_database("assessment_bench")


class PeakRss:
    """Samples a process's RSS every 10 ms in a thread while the block runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.before = self.peak = self.after = process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.after = self.process.memory_info().rss


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`assessment-async serve` pinned to SERVER_CORE; returns once /readyz answers 200."""
    process = subprocess.Popen(
        ["taskset", "-c", SERVER_CORE, sys.executable, "-m", "assessment_async.cli", "serve",
         "--port", str(port)],
        env=os.environ | {"LOG_LEVEL": "WARNING"} | env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            break
    process.terminate()
    raise RuntimeError("the app did not become ready")
