from __future__ import annotations

from typing import Any

from assessment_bench.knee import confirm, find_knee


def server_with_knee(knee: float) -> tuple[list[float], Any]:
    tried: list[float] = []

    def try_load(load: float) -> dict[str, Any]:
        tried.append(load)
        return {"p99_ms": 10 if load <= knee else 500}

    return tried, try_load


def passes(step: dict[str, Any]) -> bool:
    return bool(step["p99_ms"] <= 100)


def test_the_search_steps_up_then_bisects_to_within_the_precision() -> None:
    tried, try_load = server_with_knee(3300)
    search = find_knee(try_load, passes, start=250, limit=16000, precision=0.05)
    assert tried[:6] == [250, 500, 1000, 2000, 4000, 3000]
    assert search.knee <= 3300 < search.failed_at  # type: ignore[operator]
    assert (search.failed_at - search.knee) <= 0.05 * search.failed_at  # type: ignore[operator]
    assert not search.censored
    figures = search.as_figures()
    assert [s["load"] for s in figures["steps"]] == sorted(tried)
    assert all(s["passed"] == (s["load"] <= 3300) for s in figures["steps"])


def test_a_server_that_carries_the_top_of_the_range_is_censored() -> None:
    _, try_load = server_with_knee(10**9)
    search = find_knee(try_load, passes, start=250, limit=3000)
    assert (search.knee, search.censored, search.failed_at) == (3000, True, None)


def test_a_server_that_fails_the_first_step_is_searched_below_it() -> None:
    tried, try_load = server_with_knee(40)
    search = find_knee(try_load, passes, start=250, limit=3000, precision=0.05, whole=True)
    assert tried[0] == 250 and search.knee <= 40 < search.failed_at  # type: ignore[operator]
    assert all(load == int(load) for load in tried)


def test_a_knee_the_longer_step_refutes_moves_down_until_one_holds() -> None:
    # Short steps pass up to 3,300; sustained, the server holds only 2,800.
    _, short = server_with_knee(3300)
    search = find_knee(short, passes, start=250, limit=16000, precision=0.05)
    found = search.knee
    longer_tried, longer = server_with_knee(2800)
    confirm(search, longer, passes)
    assert longer_tried[0] == found
    assert longer_tried == sorted(longer_tried, reverse=True)  # each try lower than the last
    assert search.knee == longer_tried[-1] <= 2800 < longer_tried[-2]
    figures = search.as_figures()
    assert figures["confirmed"] and figures["searched_knee"] == found
    assert [c["passed"] for c in figures["confirmations"]][-1] is True


def test_a_knee_no_longer_step_holds_is_flagged_unconfirmed() -> None:
    _, short = server_with_knee(3300)
    search = find_knee(short, passes, start=250, limit=16000, precision=0.05)
    _, longer = server_with_knee(100)
    confirm(search, longer, passes, tries=2)
    figures = search.as_figures()
    assert not figures["confirmed"] and len(figures["confirmations"]) == 2
    assert search.knee < figures["confirmations"][-1]["load"]


def test_a_censored_knee_is_not_confirmed() -> None:
    _, try_load = server_with_knee(10**9)
    search = find_knee(try_load, passes, start=250, limit=3000)
    confirm(search, try_load, passes)
    assert "confirmations" not in search.as_figures()
