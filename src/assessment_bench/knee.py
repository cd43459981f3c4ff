"""The knee of a variant: the highest load it carries within its SLOs, found by stepping up
until a step fails, then bisecting between the last step that passed and the first that
failed until they are within `precision` of each other.

A search whose highest step still passed has not found the knee, only a floor under it: it
is censored, and the report shows its figure as "≥ X".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Figures = dict[str, Any]


@dataclass
class Search:
    steps: list[Figures] = field(default_factory=list)  # in the order tried
    knee: float = 0.0  # the highest load that passed (0: none did)
    failed_at: float | None = None  # the lowest load that failed
    censored: bool = False  # the highest load tried passed: the knee is at least `knee`

    def as_figures(self) -> Figures:
        return {"steps": sorted(self.steps, key=lambda s: s["load"]), "knee": self.knee,
                "failed_at": self.failed_at, "censored": self.censored}


def find_knee(try_load: Callable[[float], Figures], passes: Callable[[Figures], bool],
              start: float, limit: float, precision: float = 0.05,
              whole: bool = False, factor: float = 2.0) -> Search:
    """`try_load(load)` measures one step; `passes` judges it. `whole`: loads are integers.
    The load grows by `factor` until a step fails (a search that starts near a knee known
    from an earlier repeat steps by less, and bisects less)."""
    search = Search()

    def attempt(load: float) -> bool:
        figures = try_load(load)
        figures["load"] = load
        figures["passed"] = passed = passes(figures)
        search.steps.append(figures)
        if passed:
            search.knee = max(search.knee, load)
        else:
            search.failed_at = load if search.failed_at is None else min(search.failed_at,
                                                                          load)
        return passed

    load = start
    while attempt(load):
        if load >= limit:
            search.censored = True
            return search
        load = min(limit, float(round(load * factor)) if whole else load * factor)
    floor = max(1.0, precision * start) if whole else precision * start
    while search.failed_at is not None:
        low, high = search.knee, search.failed_at
        if high - low <= max(precision * high, floor):
            break
        middle = (low + high) / 2
        if whole:
            middle = float(round(middle))
            if middle in (low, high):
                break
        attempt(middle)
    return search
