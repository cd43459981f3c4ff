"""Chat admission by the worker's lag: answers never wait for chats.

A chat costs the worker a little for every token it relays; past what the worker's core
carries, every request queues behind that work, a participant's answer too. So each worker
measures how late it runs a short timer (the wait any request feels before its next step),
and while that lag, over its last few ticks, is above CHAT_ADMIT_LAG_MS, a new chat is
refused with 503 LLM_BUSY and Retry-After before any database or upstream work: the refusal
costs the worker almost nothing, the chats already streaming finish, and the saves keep
their latency.

The lag is the signal, not a fixed count of open streams: what a stream costs depends on its
upstream (how fast it sends, how long it lasts), and the lag measures the cost itself, on
whatever machine the worker runs. But the lag shows a chat's cost late: its first token comes
hundreds of milliseconds after it was admitted. A gate on the lag alone admits every chat that
arrives while the lag is low, the core is full a moment later, every chat is refused until
those end, and the lag (with every save's wait) swings by seconds. So the gauge also learns a
ceiling on the chats open at once, from the lag, the way TCP learns its window: cut to
BACKOFF of the chats open when the lag passes its bound, raised a little every tick while the
lag is well under it and the ceiling is what holds chats back. A chat is admitted while the
lag is within its bound and fewer chats are open than the ceiling. docs/performance.md has
the figures that chose the defaults.

The timers themselves are each runtime's: a task on the ASGI app's event loop
(assessment_async/infra/metrics.py), a thread (a greenlet under gevent) on the twin
(assessment_twin/admission.py).
"""

from __future__ import annotations

import math
import time
from collections import deque

from assessment_core.errors import APIError

# How often the worker's timer fires, and over how many of its last ticks the lag is the
# median: a lag that lasts (a core full of chat work) shows in it within a few ticks, where
# one long pause (a full garbage collection, 50-100 ms) does not refuse anyone.
PROBE_SECONDS = 0.01
WINDOW = 5
RETRY_AFTER_SECONDS = 2
# The ceiling on open chats: cut to BACKOFF of those open when the lag passes its bound, at
# most once per CUT_SECONDS (the time a cut takes to show: the chats admitted before it are
# still starting), never below FLOOR; raised by GROWTH of itself plus RAISE chats a second
# while the lag is under half its bound.
BACKOFF = 0.9
CUT_SECONDS = 0.5
FLOOR = 4
GROWTH = 0.1
RAISE = 20


class LagGauge:
    """The worker's recent lag and open chats, and whether a new chat is admitted beside them."""

    def __init__(self, admit_below_ms: float) -> None:
        self.limit = admit_below_ms / 1000  # 0: every chat is admitted
        self.recent: deque[float] = deque([0.0] * WINDOW, maxlen=WINDOW)
        self.lag = 0.0  # the median of the recent ticks' lags, in seconds
        self.open = 0  # chats streaming now (chat_started / chat_ended)
        self.ceiling = math.inf  # open chats admitted beside the lag, learnt by observe
        self.refused = 0
        self._cut_at = -math.inf
        self._ticked_at: float | None = None

    def observe(self, lag_seconds: float, now: float | None = None) -> None:
        """One tick of the worker's timer: its lag, at `now` (time.monotonic's clock)."""
        now = time.monotonic() if now is None else now
        since, self._ticked_at = (0.0 if self._ticked_at is None else now - self._ticked_at), now
        self.recent.append(lag_seconds)
        self.lag = sorted(self.recent)[WINDOW // 2]
        if not self.limit:
            return
        if self.lag > self.limit:
            if now - self._cut_at >= CUT_SECONDS:
                self.ceiling = max(FLOOR, min(self.ceiling, self.open * BACKOFF))
                self._cut_at = now
        elif self.lag <= self.limit / 2 and self.open + 1 >= self.ceiling:
            self.ceiling += (self.ceiling * GROWTH + RAISE) * min(since, 1.0)

    def admits_chat(self) -> bool:
        if not self.limit or (self.lag <= self.limit and self.open < self.ceiling):
            return True
        self.refused += 1
        return False

    def chat_started(self) -> None:
        self.open += 1

    def chat_ended(self) -> None:
        self.open -= 1


def worker_busy() -> APIError:
    """The answer to a chat refused by admission: the same code as every slot busy, so a
    client handles both alike, with a shorter wait (the lag clears within a second)."""
    return APIError(503, "LLM_BUSY", "The assistant is busy with other conversations; your "
                    f"message was not sent. Retry in {RETRY_AFTER_SECONDS} seconds.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
