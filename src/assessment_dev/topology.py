"""The parts of a deployment past one process, started on loopback for the tests and the
bench: PgBouncer in front of PostgreSQL, nginx in front of the app's replicas. Both read the
project's own configuration (deploy/), so what is tested is what docker-compose.yml runs.

Both are Debian's packages (bin/setup installs them). Run as root, PgBouncer refuses to
start; it is then started as `nobody` (its -u option), like the embedded PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from string import Template
from urllib.parse import unquote, urlsplit, urlunsplit

from assessment_dev.ports import free_port
from assessment_dev.processes import stop

DEPLOY = Path(os.environ.get("ASSESSMENT_DEPLOY_DIR")
              or Path(__file__).resolve().parents[2] / "deploy")


def need(program: str) -> str:
    path = shutil.which(program) or (f"/usr/sbin/{program}"
                                     if os.access(f"/usr/sbin/{program}", os.X_OK) else None)
    if path is None:
        raise RuntimeError(f"{program} is not installed: bin/setup installs it (Debian: "
                           f"apt-get install {program})")
    return path


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, what: str,
                   seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}): "
                               f"{log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {seconds:.0f} s")


@contextmanager
def running_pgbouncer(database_url: str, *, pool_size: int | None = None,
                      prefix: Sequence[str] = ()) -> Iterator[str]:
    """PgBouncer in transaction mode (deploy/pgbouncer/pooling.ini) in front of
    `database_url`; yields the URL that reaches the same database through it."""
    program = need("pgbouncer")
    url = urlsplit(database_url)
    database = url.path.lstrip("/")
    user, password = unquote(url.username or ""), unquote(url.password or "")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    # auth_type "any": the tests' and the bench's clients are trusted, and PgBouncer logs in
    # as the URL's user. A deployment authenticates its clients (deploy/pgbouncer).
    login = f" user={user}" + (f" password={password}" if password else "")
    overrides = f"default_pool_size = {pool_size}\n" if pool_size else ""
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{database} = host={url.hostname} port={url.port or 5432} "
        f"dbname={database}{login}\n\n"
        # The shared rules open the [pgbouncer] section; what follows adds to it (a second
        # [pgbouncer] header would start it afresh, defaults and all).
        f"%include {DEPLOY / 'pgbouncer' / 'pooling.ini'}\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = any\n{overrides}")
    log = folder / "pgbouncer.log"
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    folder.chmod(0o755)
    with open(log, "wb") as out:
        process = subprocess.Popen([*prefix, program, *as_user, str(folder / "pgbouncer.ini")],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process, log, "pgbouncer")
        netloc = f"{url.netloc.rsplit('@', 1)[0]}@127.0.0.1:{port}" if "@" in url.netloc \
            else f"127.0.0.1:{port}"
        yield urlunsplit((url.scheme, netloc, url.path, url.query, ""))
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


# New sessions per client address: docker-compose.yml's, and the topology test's.
SESSION_RATE, SESSION_BURST = "30r/m", 20
# Each open chat holds two connections (the participant's, the replica's): room for 8,000.
WORKER_CONNECTIONS = 16384


def render_nginx(listen_port: int, app_servers: Sequence[str],
                 session_rate: str = SESSION_RATE, session_burst: int = SESSION_BURST) -> str:
    """deploy/nginx/assessment.conf.template with its blanks filled in."""
    template = Template((DEPLOY / "nginx" / "assessment.conf.template").read_text())
    servers = " ".join(f"server {server} max_fails=1 fail_timeout=5s;"
                       for server in app_servers)
    return template.safe_substitute(LISTEN_PORT=str(listen_port), APP_SERVERS=servers,
                                    SESSION_RATE=session_rate,
                                    SESSION_BURST=str(session_burst))


@contextmanager
def running_nginx(app_servers: Sequence[str], *, session_rate: str = SESSION_RATE,
                  session_burst: int = SESSION_BURST, prefix: Sequence[str] = (),
                  ) -> Iterator[str]:
    """nginx with deploy/nginx/assessment.conf.template in front of `app_servers`
    ("127.0.0.1:8001", ...); yields its base URL."""
    program = need("nginx")
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="nginx-"))
    folder.chmod(0o755)  # run as root, nginx's workers are `nobody`: they spool bodies here
    (folder / "assessment.conf").write_text(render_nginx(port, app_servers, session_rate,
                                                           session_burst))
    # The main file: everything nginx writes stays in the folder, and it stays in the
    # foreground, so that stopping the process stops nginx.
    (folder / "nginx.conf").write_text(
        "daemon off;\nworker_processes 1;\n"
        f"worker_rlimit_nofile {2 * WORKER_CONNECTIONS + 64};\n"
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n"
        f"events {{ worker_connections {WORKER_CONNECTIONS}; }}\n"
        "http {\n"
        f"  access_log {folder}/access.log;\n"
        f"  client_body_temp_path {folder}/body;\n  proxy_temp_path {folder}/proxy;\n"
        f"  fastcgi_temp_path {folder}/fastcgi;\n  uwsgi_temp_path {folder}/uwsgi;\n"
        f"  scgi_temp_path {folder}/scgi;\n"
        f"  include {folder}/assessment.conf;\n"
        "}\n")
    log = folder / "error.log"
    with open(log, "ab") as errors:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([*prefix, program, "-p", str(folder), "-c",
                                    str(folder / "nginx.conf")],
                                   stdout=subprocess.DEVNULL, stderr=errors)
    try:
        wait_listening(port, process, log, "nginx")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)
