from __future__ import annotations

from typing import Any

from assessment_bench.knee import find_knee


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
