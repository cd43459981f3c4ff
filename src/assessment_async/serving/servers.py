"""The ASGI servers `assessment-async serve` can run the app on (the SERVER setting).

Uvicorn (uvloop, httptools) is the default: on one pinned core it served one-answer saves
about 1.3 times as fast as Hypercorn, whose HTTP layer (h11 in pure Python) is most of the
difference (docs/performance.md). Hypercorn stays available, with the same behaviour: both
drain in-flight requests on SIGTERM for up to GRACEFUL_SECONDS and replace a killed worker.
"""

from __future__ import annotations

import logging
import signal

from assessment_async.serving import workers
from assessment_core.settings import SERVERS

GRACEFUL_SECONDS = 10

log = logging.getLogger("assessment_async")


def serve(server: str, app: str, host: str, port: int, worker_count: int,
          keepalive: float = 5.0) -> int:
    """Serve the ASGI app at import path `app` until SIGTERM/SIGINT; the exit status.
    `keepalive`: seconds an idle kept-alive connection is held."""
    log.info("serving on http://%s:%s with %s (%s worker%s)", host, port, server, worker_count,
             "" if worker_count == 1 else "s")
    if server == "uvicorn":
        return _uvicorn(app, host, port, worker_count, keepalive)
    if server == "hypercorn":
        return _hypercorn(app, host, port, worker_count, keepalive)
    raise ValueError(f"unknown server {server!r}: choose one of {', '.join(SERVERS)}")


def _uvicorn(app: str, host: str, port: int, worker_count: int, keepalive: float) -> int:
    import uvicorn

    # Uvicorn drains on SIGTERM/SIGINT, then raises the signal again for the handler it found
    # installed: with Python's defaults the process would end killed by it (status -15)
    # after a clean shutdown. This handler makes that a normal exit, status 0.
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _exit_normally)
    # One worker serves in this process; more run under Uvicorn's supervisor, which restarts
    # a worker that dies. log_config=None keeps our logging (configure_logging) as it is.
    try:
        uvicorn.run(app, host=host, port=port, workers=worker_count, loop="uvloop",
                    http="httptools", ws="none", lifespan="on", access_log=False,
                    log_config=None, timeout_graceful_shutdown=GRACEFUL_SECONDS,
                    timeout_keep_alive=int(keepalive), server_header=False)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 0
    return 0


def _exit_normally(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _hypercorn(app: str, host: str, port: int, worker_count: int, keepalive: float) -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    config = Config()
    config.application_path = app
    config.bind = [f"{host}:{port}"]
    config.worker_class = "uvloop"
    config.workers = 0 if worker_count == 1 else worker_count  # 0: serve in this process
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our handler, once
    config.graceful_timeout = float(GRACEFUL_SECONDS)
    config.keep_alive_timeout = keepalive
    # Several workers: our loop, which replaces a dead worker and stops them gracefully.
    return run(config) if config.workers == 0 else workers.serve(config)
