"""Upstream LLM faults under load on the ASGI app as a real server: every chat ends in an
`error` event in time, its turn is stored right, and no upstream connection is left open."""

from __future__ import annotations

import pytest

from assessment_bench.reliability.server import Stack
from assessment_bench.reliability.upstream import (
    CHATS,
    CONCURRENCY,
    MARGIN,
    READ_TIMEOUT,
    UPSTREAM_FAULTS,
)


@pytest.mark.parametrize("fault", list(UPSTREAM_FAULTS))
def test_faulted_chats_end_in_an_error_event_with_the_turn_stored(
    stack: Stack, fault: str,
) -> None:
    function, _ = UPSTREAM_FAULTS[fault]
    result = function(stack, "asgi")
    figures = result.figures
    assert result.passed, result.note
    assert (figures["chats"], figures["error_events"]) == (CHATS, CHATS)
    assert figures["wrong_status"] == figures["failed_requests"] == 0
    assert 0 < figures["slowest_error_seconds"] <= READ_TIMEOUT + MARGIN
    assert figures["upstream_sockets_after"] <= CONCURRENCY
    assert figures["upstream_sockets_leaked"] == 0
    if fault == "llm-stall":  # a 30 s stall is given up after the read timeout, not before
        assert READ_TIMEOUT <= figures["median_error_seconds"] < READ_TIMEOUT + 1
