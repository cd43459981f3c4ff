"""Hypercorn's multi-process serving, made to outlive a worker and to stop gracefully.

Hypercorn's own loop (hypercorn.run.run) ends the whole server when one worker dies, and its
workers have no SIGTERM handler, so a SIGTERM sent to the process group (systemd, a terminal)
kills them mid-request. Here a worker that dies is replaced, the workers ignore SIGTERM and
SIGINT (the master stops them through a shared event), and the master waits for them to finish
their requests, up to the graceful timeout, before it kills what is left.
"""

from __future__ import annotations

import logging
import signal
import time
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

from hypercorn.asyncio.run import asyncio_worker, uvloop_worker
from hypercorn.config import Config, Sockets

log = logging.getLogger(__name__)

# A worker that exits by itself this soon after it started failed to start (a bad app, a
# failing lifespan): replacing it would loop forever, so the server stops instead. One killed
# by a signal (the OOM killer, an operator) is always replaced.
MIN_WORKER_SECONDS = 5.0


def serve(config: Config) -> int:
    """Serve with config.workers processes until SIGTERM or SIGINT; the exit status."""
    sockets = config.create_sockets()
    context = get_context("spawn")
    stopping = context.Event()
    workers: list[tuple[SpawnProcess, float]] = []
    status = 0

    def stop(*_: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping.is_set():
            while len(workers) < config.workers:
                process = context.Process(target=_worker, args=(config, sockets, stopping))
                process.start()
                workers.append((process, time.monotonic()))
            wait([process.sentinel for process, _ in workers], timeout=1)
            for ended in [w for w in workers if w[0].exitcode is not None]:
                workers.remove(ended)
                process, started = ended
                if stopping.is_set():
                    continue
                killed = (process.exitcode or 0) < 0
                if not killed and time.monotonic() - started < MIN_WORKER_SECONDS:
                    log.error("worker %s exited with %s as it started; stopping", process.pid,
                              process.exitcode)
                    status = process.exitcode or 1
                    stopping.set()
                else:
                    log.warning("worker %s exited with %s; starting another", process.pid,
                                process.exitcode)
    finally:
        stopping.set()
        # Our copy of the listening sockets would keep taking connections nobody serves.
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()
        deadline = time.monotonic() + config.graceful_timeout + 5
        for process, _ in workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join()
    return status


def _worker(config: Config, sockets: Sockets, stopping: Event) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    run = uvloop_worker if config.worker_class == "uvloop" else asyncio_worker
    run(config, sockets, stopping)
