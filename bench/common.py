"""What these one-off measurement scripts share: the database, the pinned app process."""

from __future__ import annotations

import os
import subprocess

from assessment_bench.runner import OTHER_CORES, SERVER_CORE
from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_core.settings import Settings
from assessment_dev.embedded_db import EmbeddedPostgres

__all__ = ["OTHER_CORES", "SERVER_CORE", "database_url", "pin_self", "start_app"]


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


def start_app(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The `asgi` variant pinned to SERVER_CORE, through the bench's launcher; ready."""
    process = start(VARIANTS["asgi"], port, env=env, prefix=("taskset", "-c", SERVER_CORE))
    try:
        wait_ready(process, port)
    except RuntimeError:
        stop(process)
        raise
    return process
