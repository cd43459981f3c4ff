"""Gunicorn settings for the twin; manage.sh picks the worker class.

TWIN_PSYCOGREEN=1 patches psycopg2 at worker start (gevent-green, gevent-phase2): without it a
query blocks the whole gevent worker, which is what phase 1 as written does.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from assessment_core.collector import apply_young_threshold
from assessment_core.settings import Settings

accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
graceful_timeout = 10
# gthread and gevent workers run long streams; the sync-worker timeout must not kill them.
timeout = 0
# The same setting as the ASGI app's servers (KEEPALIVE_TIMEOUT, 5 s by default).
keepalive = int(Settings().keepalive_timeout)


def post_fork(server: Any, worker: Any) -> None:
    if Settings().twin_psycogreen:
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()


def post_worker_init(worker: Any) -> None:
    # The same care as the ASGI app (GC_FREEZE, on by default): what the worker made while
    # loading the app is moved out of the collector's reach, so a full collection scans only
    # what requests made.
    settings = Settings()
    apply_young_threshold(settings.gc_young_threshold)
    if settings.gc_freeze:
        gc.collect()
        gc.freeze()
