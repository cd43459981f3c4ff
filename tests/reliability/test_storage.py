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
