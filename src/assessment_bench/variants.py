"""The variants the bench compares, and how each is started (the one launcher).

Every variant serves the same API on the same schema, pool size and CPU budget; only the
server, the concurrency model and the I/O layer differ (shared/design.md, "Variants").
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

TWIN_MANAGE = Path(__file__).resolve().parent.parent / "assessment_twin" / "manage.sh"
ASGI_APP = "assessment_async.serving.asgi:app"


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    family: str  # "asgi" or "twin"
    env: dict[str, str] = field(default_factory=dict)
    # A deployment's hops in front of it (assessment_dev/topology.py), measured against the
    # same app direct: "pgbouncer" before PostgreSQL, "nginx" before the server.
    hops: tuple[str, ...] = ()

    def command(self, port: int, workers: int) -> list[str]:
        python = sys.executable
        host = "127.0.0.1"
        if self.name == "asgi-granian":
            return [python, "-m", "granian", "--interface", "asgi", "--host", host,
                    "--port", str(port), "--workers", str(workers), "--loop", "uvloop",
                    "--no-ws", "--log-level", "warning",
                    # Granian always runs a master; without this, one killed worker ends it.
                    "--respawn-failed-workers", ASGI_APP]
        if self.family == "asgi":
            app = "assessment_bench.naive_asgi:app" if self.name == "asgi-naive" else ASGI_APP
            # The naive app runs where Quart's documentation points: Hypercorn.
            server = "hypercorn" if self.name in ("asgi-naive", "asgi-hypercorn") else "uvicorn"
            return [python, "-m", "assessment_async.cli", "serve", "--host", host,
                    "--port", str(port), "--workers", str(workers), "--no-migrate",
                    "--server", server, "--app", app]
        return ["bash", str(TWIN_MANAGE)]

    def environment(self, port: int, workers: int) -> dict[str, str]:
        env = dict(self.env)
        if self.family == "twin":
            env |= {"BIND": f"127.0.0.1:{port}", "WORKERS": str(workers),
                    "PYTHON": sys.executable}
        return env


# gevent-tuned's levers (assessment_core/settings.py): each one kept because the bench showed
# it helps (docs/performance.md).
TUNED = {"WORKER_CLASS": "gevent", "TWIN_PSYCOGREEN": "1", "TWIN_GROUP_COMMIT": "1",
         "TWIN_AUTOCOMMIT": "1", "TWIN_LEAN_CHAT": "1",
         # Not a speed lever: the body timeouts the ASGI app has, so that the slowloris rows
         # of the fault table measure the runtime, not a setting the plan omits.
         "TWIN_BODY_TIMEOUTS": "1",
         # Chats refused while the worker lags, as the ASGI app does (CHAT_ADMIT_LAG_MS).
         "TWIN_CHAT_ADMISSION": "1"}

VARIANTS = {v.name: v for v in (
    Variant("asgi", "Quart on Uvicorn (uvloop, httptools), asyncpg under SQLAlchemy's pool: "
            "this project", "asgi"),
    Variant("asgi-naive", "the same routes the obvious way: an ORM session per request, "
            "httpx's default transport, on Hypercorn", "asgi"),
    Variant("asgi-hypercorn", "the asgi app on Hypercorn (uvloop, h11)", "asgi"),
    Variant("asgi-granian", "the asgi app on Granian", "asgi"),
    Variant("asgi-proxied", "the asgi app behind nginx, with PgBouncer (transaction mode) "
            "before PostgreSQL: a deployment's hops", "asgi",
            {"DB_STATEMENT_CACHE_SIZE": "0"}, hops=("pgbouncer", "nginx")),
    Variant("asgi-pgbouncer", "the asgi app with PgBouncer (transaction mode) before "
            "PostgreSQL, no statement cache: the pooler's own cost", "asgi",
            {"DB_STATEMENT_CACHE_SIZE": "0"}, hops=("pgbouncer",)),
    Variant("asgi-no-group-commit", "the asgi app with each save its own statement "
            "(GROUP_COMMIT=0)", "asgi", {"GROUP_COMMIT": "0"}),
    Variant("asgi-no-admission", "the asgi app admitting every chat however late its loop "
            "runs (CHAT_ADMIT_LAG_MS=0)", "asgi", {"CHAT_ADMIT_LAG_MS": "0"}),
    Variant("gthread", "Flask twin, gunicorn -k gthread, 32 threads: before the plan", "twin",
            {"WORKER_CLASS": "gthread"}),
    Variant("gevent", "Flask twin, gunicorn -k gevent, psycopg2 unpatched: phase 1 as "
            "written", "twin", {"WORKER_CLASS": "gevent"}),
    Variant("gevent-green", "gevent plus psycogreen: what phase 1 needs", "twin",
            {"WORKER_CLASS": "gevent", "TWIN_PSYCOGREEN": "1"}),
    Variant("gevent-phase2", "gevent-green with the notes' *_async wrappers called through "
            "asyncio.run() in the routes", "twin",
            {"WORKER_CLASS": "gevent", "TWIN_PSYCOGREEN": "1", "TWIN_PHASE2": "1"}),
    Variant("gevent-tuned", "gevent-green with every lever of the ASGI app a gevent app can "
            "have: group commit by a writer greenlet, statements in autocommit, a chat started "
            "in two statements, the same body timeouts", "twin", TUNED),
    Variant("gevent-tuned-no-admission", "gevent-tuned admitting every chat "
            "(TWIN_CHAT_ADMISSION=0)", "twin", TUNED | {"TWIN_CHAT_ADMISSION": "0"}),
    Variant("gevent-tuned-no-group-commit", "gevent-tuned with each save its own statement "
            "(TWIN_GROUP_COMMIT=0)", "twin", TUNED | {"TWIN_GROUP_COMMIT": "0"}),
)}


def start(
    variant: Variant, port: int, *, workers: int = 1, env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (), stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start the variant's server (it needs DATABASE_URL and LLM_BASE_URL in `env`)."""
    full_env = os.environ | {"LOG_LEVEL": "WARNING"} | (env or {}) \
        | variant.environment(port, workers)
    return subprocess.Popen([*prefix, *variant.command(port, workers)], env=full_env,
                            stdout=stdout, stderr=stderr, start_new_session=True,
                            preexec_fn=raise_open_files)


OPEN_FILES = 65536  # a server holding 10,000 streams has 20,000 sockets open, and more


def raise_open_files() -> None:
    """Let the server open as many files as any scenario needs (as far as it may)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((OPEN_FILES, max(hard, OPEN_FILES)), (min(OPEN_FILES, hard), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return
        except (ValueError, OSError):
            continue


def wait_ready(process: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    """Block until GET /readyz answers 200; RuntimeError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server was not ready within {timeout} s")


def stop(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM the server's process group; SIGKILL what is left after `grace` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    except ProcessLookupError:
        pass
