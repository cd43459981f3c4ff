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
    # The longer steps that confirmed the knee (confirm()); None: not confirmed.
    confirmations: list[Figures] | None = None
    searched_knee: float | None = None  # the knee the short steps found, before confirming

    def as_figures(self) -> Figures:
        figures = {"steps": sorted(self.steps, key=lambda s: s["load"]), "knee": self.knee,
                   "failed_at": self.failed_at, "censored": self.censored}
        if self.confirmations is not None:
            figures |= {"confirmations": self.confirmations,
                        "searched_knee": self.searched_knee,
                        "confirmed": bool(self.confirmations
                                          and self.confirmations[-1]["passed"])}
        return figures


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


def confirm(search: Search, try_load: Callable[[float], Figures],
            passes: Callable[[Figures], bool], step_down: float = 0.1, tries: int = 3,
            whole: bool = False) -> Search:
    """Try the knee once more in a longer step (`try_load`): near capacity a queue grows
    slowly, and a short step can end before it shows. A failing load counts as failed, and
    the load `step_down` lower is tried, up to `tries` times; the knee becomes the load that
    held, or, if none did, the one below the last tried (unconfirmed, and the figures say
    so). A censored search is left as it is: its knee is a floor already."""
    if search.censored or not search.knee:
        return search
    search.searched_knee, search.confirmations = search.knee, []
    load = search.knee
    for _ in range(tries):
        figures = try_load(load)
        figures["load"] = load
        figures["passed"] = passed = passes(figures)
        search.confirmations.append(figures)
        if passed:
            search.knee = load
            return search
        search.failed_at = load if search.failed_at is None else min(search.failed_at, load)
        load = float(round(load * (1 - step_down))) if whole else load * (1 - step_down)
    search.knee = load
    return search
