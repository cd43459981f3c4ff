"""The chat capacity hol and overload offer their loads against is fixed once a run, so every
variant in every repeat is offered the same chats/s."""

from __future__ import annotations

from pathlib import Path

from assessment_bench.load.churn import TOKENS
from assessment_bench.modes import MODES
from assessment_bench.scenarios import Target, chat_capacity
from assessment_bench.workload import Workload


def target(run_hints: dict[str, dict[str, float]], own: str) -> Target:
    return Target("http://127.0.0.1:1", MODES["full"], Workload("", Path()), (),
                  hints=run_hints.setdefault(own, {}), run_hints=run_hints)


def test_the_first_asking_fixes_the_capacity_for_every_variant() -> None:
    run: dict[str, dict[str, float]] = {}
    asgi = target(run, "asgi")
    asgi.hints["chat-stream-tokens"] = 90.0 * TOKENS
    assert chat_capacity(asgi) == 90
    # A variant that relayed more, later, is still offered the loads asgi was.
    tuned = target(run, "gevent-tuned")
    tuned.hints["chat-stream-tokens"] = 120.0 * TOKENS
    assert chat_capacity(tuned) == 90 and chat_capacity(asgi) == 90


def test_without_a_chat_stream_the_mode_says_the_capacity() -> None:
    assert chat_capacity(target({}, "asgi")) == MODES["full"].overload_capacity
