"""Lifecycle faults on the ASGI app: stopped, killed, its database restarted or gone.

Each fault drives the acknowledged-writes ledger while it strikes, then reads every
acknowledged write back from PostgreSQL (and frames from disk): none may be missing.
"""

from __future__ import annotations

import pytest

from assessment_bench.reliability.lifecycle import (
    RECOVERY_LIMIT,
    database_outage,
    postgres_restart,
    sigkill_worker,
    sigterm_mid_load,
)
from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Stack

VARIANT = "asgi"


def held(result: FaultResult) -> str:
    return f"{result.note} {result.figures}"


def wrote_enough(result: FaultResult) -> None:
    """The load was real: every kind of write was acknowledged, and read back."""
    figures = result.figures
    assert figures["lost"] == 0, held(result)
    assert figures["present"] == figures["acknowledged"] > 50, held(result)
    for kind in ("sessions", "answers", "turns", "frames"):
        assert figures[f"acked_{kind}"] > 0, held(result)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_mid_load_finishes_what_is_in_flight(stack: Stack, workers: int) -> None:
    result = sigterm_mid_load(stack, VARIANT, workers=workers)
    assert result.passed, held(result)
    wrote_enough(result)
    figures = result.figures
    assert figures["in_flight"] > 0, held(result)
    assert figures["in_flight_acked"] == figures["in_flight"], held(result)
    assert figures["exit_code"] == 0 and figures["seconds_to_exit"] < 10, held(result)


def test_sigkill_of_the_only_process_loses_nothing_acknowledged(stack: Stack) -> None:
    result = sigkill_worker(stack, VARIANT)
    assert result.passed, held(result)
    wrote_enough(result)
    assert result.figures["restarted"] == 1, held(result)
    assert result.figures["seconds_to_serve_again"] > 0, held(result)


def test_a_killed_worker_is_replaced_and_nothing_acknowledged_is_lost(stack: Stack) -> None:
    result = sigkill_worker(stack, VARIANT, workers=2)
    assert result.passed, held(result)
    wrote_enough(result)
    figures = result.figures
    assert figures["killed_worker"] == 1 and figures["restarted"] == 0, held(result)
    assert 0 < figures["seconds_to_replace_worker"] < 10, held(result)
    assert 0 < figures["seconds_to_serve_again"] < 10, held(result)


@pytest.mark.parametrize("variant", [VARIANT, "gevent-tuned"])  # the twin retries too
def test_postgres_restart_loses_nothing_and_heals_by_itself(own_stack: Stack,
                                                            variant: str) -> None:
    result = postgres_restart(own_stack, variant)
    assert result.passed, held(result)
    wrote_enough(result)
    figures = result.figures
    assert 0 <= figures["seconds_to_recover"] <= RECOVERY_LIMIT, held(result)
    assert figures["failed_other_while_down"] == 0, held(result)
    # A turn ending while PostgreSQL is away waits for it, so it is saved and its session can
    # chat on.
    assert figures["turns_not_saved"] == figures["sessions_refused_a_chat_after"] == 0, \
        held(result)


def test_database_outage_answers_503_then_recovers(own_stack: Stack) -> None:
    result = database_outage(own_stack, VARIANT)
    assert result.passed, held(result)
    figures = result.figures
    assert figures["readyz_503"] == figures["readyz_probes"] > 0, held(result)
    assert figures["api_503"] == figures["api_probes"] > 0, held(result)
    assert figures["no_answer"] == 0 and figures["slowest_answer_seconds"] < 5, held(result)
    assert 0 <= figures["seconds_to_recover"] <= RECOVERY_LIMIT, held(result)
    assert 0 <= figures["seconds_to_ready"] <= RECOVERY_LIMIT, held(result)
