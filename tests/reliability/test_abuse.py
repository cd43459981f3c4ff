"""Client abuse on the ASGI app as a real server: each is refused with the contract's 4xx in
time, the server's memory stays bounded, and it still answers afterwards."""

from __future__ import annotations

import pytest

from assessment_bench.reliability.abuse import (
    ABUSE_FAULTS,
    BODY_TIMEOUT,
    CROWD,
    PROBE_BOUND,
    QUICK,
    RSS_BOUND_MB,
    UPLOAD_TIMEOUT,
)
from assessment_bench.reliability.server import Stack

# fault: (the status it must get, the earliest and the latest it may come); the ASGI app
# cuts a trickled body within a second of its timeout, well inside the faults' MARGIN. Each
# fault also checks the answer's body is the contract's error with the fault's code
# (abuse.py's judge): contract_body 1.
REFUSALS = {
    "slowloris-json": (408, BODY_TIMEOUT, BODY_TIMEOUT + 1),
    "slowloris-upload": (408, UPLOAD_TIMEOUT, UPLOAD_TIMEOUT + 1),
    "huge-json": (413, 0, QUICK),
    "huge-json-chunked": (413, 0, QUICK),
    "huge-multipart": (413, 0, QUICK),
    "huge-multipart-chunked": (413, 0, QUICK),
    "tiny-parts": (413, 0, QUICK),
    "nested-json": (400, 0, QUICK),
    "invalid-utf8": (400, 0, QUICK),
}


@pytest.mark.parametrize("fault", list(REFUSALS))
def test_abuse_is_refused_in_time_with_memory_bounded(stack: Stack, fault: str) -> None:
    status, earliest, latest = REFUSALS[fault]
    function, _ = ABUSE_FAULTS[fault]
    result = function(stack, "asgi")
    figures = result.figures
    assert result.passed, result.note
    assert figures["status"] == status
    assert figures["contract_body"] == 1
    assert earliest <= figures["seconds"] <= latest
    assert figures["rss_growth_mb"] < RSS_BOUND_MB
    assert figures["healthy_after"] == 1


def test_a_crowd_of_slowloris_is_cut_and_others_are_served_meanwhile(stack: Stack) -> None:
    function, _ = ABUSE_FAULTS["slowloris-crowd"]
    result = function(stack, "asgi")
    figures = result.figures
    assert result.passed, result.note
    assert figures["cut"] == figures["connections"] == CROWD
    assert figures["probe_status"] == 201
    assert figures["probe_seconds"] <= PROBE_BOUND


def test_a_wrong_content_type_is_415(stack: Stack) -> None:
    function, _ = ABUSE_FAULTS["wrong-content-type"]
    result = function(stack, "asgi")
    assert result.passed, result.note
    assert result.figures["status_json_route"] == result.figures["status_upload_route"] == 415
    assert result.figures["contract_body"] == 1


def test_every_abuse_is_tested() -> None:
    assert set(ABUSE_FAULTS) == {*REFUSALS, "slowloris-crowd", "wrong-content-type"}
