"""The overload targets read the scenario's steps as the issue states them."""

from __future__ import annotations

from typing import Any

from assessment_bench.targets import overload_rows


def result(variant: str, steps: list[tuple[float, float, float, int, float]]) -> dict[str, Any]:
    """An overload result from (factor, save p99, goodput, refused, slowest refusal)."""
    return {"variant": variant, "scenario": "overload", "figures": {"steps": [
        {"factor": factor, "probe": {"p99_ms": p99},
         "chats": {"goodput_per_s": goodput, "refused": refused, "refused_max_ms": slowest}}
        for factor, p99, goodput, refused, slowest in steps]}}


def met(rows: list[dict[str, Any]]) -> list[bool | None]:
    return [row["met"] for row in rows]


def test_a_protected_server_meets_every_overload_target() -> None:
    rows = overload_rows([
        result("asgi", [(0.5, 9, 100, 0, 0), (1, 20, 200, 0, 0), (2, 40, 190, 300, 30),
                        (3, 400, 100, 900, 500)]),  # past 2x: not held to the targets
        result("gevent-green", [(0.5, 20, 100, 0, 0), (1, 60, 200, 0, 0), (2, 900, 150, 0, 0)]),
    ])
    assert met(rows) == [True, True, True, True]
    assert rows[0]["measured"] == "worst 40.0 ms"


def test_each_overload_target_fails_on_its_own_cause() -> None:
    rows = overload_rows([
        # p99 past 50 ms at 2x; 60 > 90/2 at 1x; goodput collapses past its peak (200 -> 150);
        # a refusal took 80 ms.
        result("asgi", [(0.5, 9, 100, 0, 0), (1, 60, 200, 0, 0), (2, 70, 150, 10, 80)]),
        result("gevent-green", [(0.5, 30, 100, 0, 0), (1, 90, 200, 0, 0), (2, 900, 150, 0, 0)]),
    ])
    assert met(rows) == [False, False, False, False]


def test_without_the_scenario_nothing_is_called_met() -> None:
    rows = overload_rows([])
    assert len(rows) == 4 and all(row["met"] is None for row in rows)
    assert all(row["measured"] == "not measured" for row in rows)
