"""Chat admission by the worker's lag: answers never wait for chats.

A chat costs the worker a little for every token it relays; past what the worker's core
carries, every request queues behind that work, a participant's answer too. So each worker
measures how late it runs a short timer (the wait any request feels before its next step),
and while that lag, over its last few ticks, is above CHAT_ADMIT_LAG_MS, a new chat is
refused with 503 LLM_BUSY and Retry-After before any database or upstream work: the refusal
costs the worker almost nothing, the chats already streaming finish, and the saves keep
their latency.

The lag is the signal, not a count of open streams: what a stream costs depends on its
upstream (how fast it sends, how long it lasts), and the lag measures the cost itself, on
whatever machine the worker runs. docs/performance.md has the figures that chose the default.

The timers themselves are each runtime's: a task on the ASGI app's event loop
(assessment_async/infra/metrics.py), a thread (a greenlet under gevent) on the twin
(assessment_twin/admission.py).
"""

from __future__ import annotations

from collections import deque

from assessment_core.errors import APIError

# How often the worker's timer fires, and over how many of its last ticks the lag is the
# median: a lag that lasts (a core full of chat work) shows in it within a few ticks, where
# one long pause (a full garbage collection, 50-100 ms) does not refuse anyone.
PROBE_SECONDS = 0.01
WINDOW = 5
RETRY_AFTER_SECONDS = 2


class LagGauge:
    """The worker's recent lag, and whether a new chat is admitted beside it."""

    def __init__(self, admit_below_ms: float) -> None:
        self.limit = admit_below_ms / 1000  # 0: every chat is admitted
        self.recent: deque[float] = deque([0.0] * WINDOW, maxlen=WINDOW)
        self.lag = 0.0  # the median of the recent ticks' lags, in seconds
        self.refused = 0

    def observe(self, lag_seconds: float) -> None:
        self.recent.append(lag_seconds)
        self.lag = sorted(self.recent)[WINDOW // 2]

    def admits_chat(self) -> bool:
        if not self.limit or self.lag <= self.limit:
            return True
        self.refused += 1
        return False


def worker_busy() -> APIError:
    """The answer to a chat refused by admission: the same code as every slot busy, so a
    client handles both alike, with a shorter wait (the lag clears within a second)."""
    return APIError(503, "LLM_BUSY", "The assistant is busy with other conversations; your "
                    f"message was not sent. Retry in {RETRY_AFTER_SECONDS} seconds.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
