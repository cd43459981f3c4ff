"""The frame store fills up under the ASGI app and the gevent plan: nothing acknowledged is
lost, the batch that does not fit is refused with 507 and leaves no rows."""

from __future__ import annotations

import pytest

from assessment_bench.reliability.server import Stack
from assessment_bench.reliability.storage import STORAGE_FAULTS


@pytest.mark.parametrize("variant", ["asgi", "gevent-green"])
def test_a_full_store_loses_nothing_acknowledged(stack: Stack, variant: str) -> None:
    function, _ = STORAGE_FAULTS["disk-full"]
    result = function(stack, variant)
    figures = result.figures
    assert result.passed, result.note
    assert figures["acknowledged"] >= 2 and figures["lost"] == 0
    assert figures["refused_507"] >= 1 and figures["rows"] == figures["acknowledged"]


@pytest.mark.parametrize("variant", ["asgi", "gevent-tuned"])
def test_an_s3_outage_is_answered_503_and_loses_nothing_acknowledged(
    stack: Stack, variant: str,
) -> None:
    function, _ = STORAGE_FAULTS["s3-down"]
    result = function(stack, variant)
    assert result.passed, result.note
    assert result.figures["acknowledged"] == 6 and result.figures["lost"] == 0
    assert result.figures["refused_status"] == 503


@pytest.mark.parametrize("variant", ["asgi", "gevent-tuned"])
def test_a_slow_s3_slows_uploads_not_the_saves_beside_them(stack: Stack, variant: str) -> None:
    function, _ = STORAGE_FAULTS["s3-slow"]
    result = function(stack, variant)
    assert result.passed, result.note
    assert result.figures["acknowledged"] == 8 and result.figures["lost"] == 0
    assert result.figures["saves"] >= 3
