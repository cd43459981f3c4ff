"""Medians and ratios with 95% confidence intervals, by bootstrap over the repeats.

Why repeats, not windows of one run: on this kind of machine most of the variation is between
runs of a server (where its pages and PostgreSQL's buffers landed, what else the host did
that minute), not within one steady state; windows of one run would leave that out and claim
too much. Why pairs for ratios: each repeat runs every variant once, one after another, so
repeat i of A and repeat i of B saw the same minute of the machine; the ratio of a pair
cancels what drifted between repeats, and the interval is taken over those ratios. phq-save,
the cheapest headline, goes further: every variant's server is up at once and each repeat
measures all of them in rounds, so the two sides of a pair are a minute apart (runner.py),
and every round is a sample.

The bootstrap is the percentile kind: resample the repeats with replacement, take the median,
many times; the interval holds the middle 95% of those medians. It is seeded, so the same
results always give the same report.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RESAMPLES = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    median: float
    low: float
    high: float
    n: int

    def overlaps(self, other: Estimate) -> bool:
        return self.low <= other.high and other.low <= self.high

    @property
    def half_width(self) -> float:
        """Half the interval's width as a share of the median (0.1: about ±10%)."""
        return (self.high - self.low) / 2 / abs(self.median) if self.median else float("inf")


def interval(values: Sequence[float], seed: int = 1) -> Estimate:
    """The median of `values` with its bootstrap interval (one value: a zero-width one)."""
    if not values:
        raise ValueError("no values")
    middle = statistics.median(values)
    if len(values) == 1:
        return Estimate(middle, middle, middle, 1)
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(values, k=len(values)))
                     for _ in range(RESAMPLES))
    cut = (1 - LEVEL) / 2
    return Estimate(middle, medians[int(cut * RESAMPLES)],
                    medians[min(RESAMPLES - 1, int((1 - cut) * RESAMPLES))], len(values))


def ratio(mine: dict[int, float], theirs: dict[int, float], higher: bool = True,
          seed: int = 1) -> Estimate | None:
    """Mine against theirs, oriented so that above 1 is better, over the repeats both ran
    (keyed by repeat): the median of the per-repeat ratios and its interval."""
    pairs = [(mine[r], theirs[r]) for r in sorted(mine.keys() & theirs.keys())]
    ratios = [(a / b if higher else b / a) for a, b in pairs if a > 0 and b > 0]
    return interval(ratios, seed) if ratios else None
