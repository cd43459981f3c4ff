"""The chat gauge's policy (assessment_core/admission.py), tick by tick on a clock of the test's:
the lag bound refuses at once, the ceiling on open chats is cut when the lag passes it and
grows back while the lag is low, and one long pause refuses no one."""

from __future__ import annotations

import math

from assessment_core.admission import BACKOFF, CUT_SECONDS, FLOOR, PROBE_SECONDS, LagGauge


class Worker:
    """A gauge fed ticks 10 ms apart, with the chats it admits held open."""

    def __init__(self) -> None:
        self.gauge = LagGauge(15)
        self.now = 0.0

    def tick(self, lag_ms: float, ticks: int = 1) -> None:
        for _ in range(ticks):
            self.now += PROBE_SECONDS + lag_ms / 1000
            self.gauge.observe(lag_ms / 1000, self.now)

    def offer(self, chats: int) -> int:
        admitted = 0
        for _ in range(chats):
            if self.gauge.admits_chat():
                self.gauge.chat_started()
                admitted += 1
        return admitted


def test_no_ceiling_until_the_worker_lags() -> None:
    worker = Worker()
    worker.tick(1, ticks=100)
    assert worker.offer(500) == 500 and worker.gauge.ceiling == math.inf


def test_a_lag_past_the_bound_refuses_and_cuts_the_ceiling_below_the_open_chats() -> None:
    worker = Worker()
    assert worker.offer(200) == 200
    worker.tick(40, ticks=3)  # the median of the last five passes 15 ms
    assert worker.gauge.ceiling == 200 * BACKOFF
    assert worker.offer(10) == 0 and worker.gauge.refused == 10
    worker.tick(40, ticks=3)  # within CUT_SECONDS of the cut: not cut again
    assert worker.gauge.ceiling == 200 * BACKOFF
    for _ in range(20):  # the lag lasts as chats end: the next cut follows the open chats
        worker.gauge.chat_ended()
    worker.tick(40, ticks=round(CUT_SECONDS / 0.05) + 1)
    assert worker.gauge.ceiling == 180 * BACKOFF


def test_the_ceiling_holds_chats_once_the_lag_clears_then_grows_back() -> None:
    worker = Worker()
    worker.offer(200)
    worker.tick(40, ticks=3)
    for _ in range(40):  # a fifth of the chats end; the lag clears
        worker.gauge.chat_ended()
    worker.tick(1, ticks=5)
    ceiling = worker.gauge.ceiling
    assert worker.offer(100) == math.ceil(ceiling) - 160  # up to the ceiling, not all 100
    for _ in range(100):  # a second of low lag with chats offered at the ceiling
        worker.tick(1)
        worker.offer(5)
    assert ceiling * 1.1 + 10 < worker.gauge.ceiling < ceiling * 1.2 + 30
    assert worker.gauge.open == math.ceil(worker.gauge.ceiling)


def test_one_long_pause_refuses_no_one_and_the_floor_keeps_chats_going() -> None:
    worker = Worker()
    worker.tick(1, ticks=5)
    worker.tick(100)  # a full collection
    worker.tick(1)
    assert worker.offer(5) == 5 and worker.gauge.ceiling == math.inf
    idle = Worker()
    idle.tick(40, ticks=5)  # lagging with no chat open: a save flood, say
    idle.tick(1, ticks=5)
    assert idle.gauge.ceiling == FLOOR and idle.offer(10) == FLOOR


def test_admission_off_admits_every_chat_whatever_the_lag() -> None:
    gauge = LagGauge(0)
    for _ in range(10):
        gauge.observe(1.0)
    assert gauge.admits_chat() and gauge.ceiling == math.inf
