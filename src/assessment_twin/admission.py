"""The twin's lag watcher (TWIN_CHAT_ADMISSION): the ASGI app's chat admission, the gevent way.

A daemon thread, which is a greenlet once gevent has patched threading (gunicorn's gevent
worker does, before it loads the app), sleeps PROBE_SECONDS and measures how late it woke:
under gevent, the time the hub took to come back to it, which every request waits too; under
gthread, the wait for the interpreter's lock. The policy is the ASGI app's
(assessment_core/admission.py).
"""

from __future__ import annotations

import threading
import time

from assessment_core.admission import PROBE_SECONDS, LagGauge


def watched_gauge(admit_below_ms: float) -> LagGauge:
    """A gauge fed, for the worker's life, by a timer of its own (none when admission is off)."""
    gauge = LagGauge(admit_below_ms)
    if gauge.limit:
        threading.Thread(target=_watch, args=(gauge,), name="lag-watch", daemon=True).start()
    return gauge


def _watch(gauge: LagGauge) -> None:
    while True:
        due = time.monotonic() + PROBE_SECONDS
        time.sleep(PROBE_SECONDS)
        gauge.observe(max(0.0, time.monotonic() - due))
