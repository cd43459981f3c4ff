from __future__ import annotations

import random

import pytest

from assessment_bench.stats import interval, ratio


def test_the_interval_of_a_median_holds_it_and_stays_within_the_values() -> None:
    estimate = interval([3120, 3779, 3820, 3500, 3650])
    assert estimate.median == 3650 and estimate.n == 5
    assert 3120 <= estimate.low < 3650 < estimate.high <= 3820
    assert interval([3120, 3779, 3820, 3500, 3650]) == estimate  # seeded: the same report
    assert interval([42.0]).low == interval([42.0]).high == 42.0


def test_more_repeats_narrow_the_interval() -> None:
    rng = random.Random(3)
    noisy = [rng.gauss(100, 10) for _ in range(40)]
    assert interval(noisy).half_width < interval(noisy[:5]).half_width


def test_a_ratio_pairs_the_repeats_both_ran() -> None:
    mine = {1: 2000.0, 2: 2600.0, 3: 2200.0, 4: 9999.0}
    theirs = {1: 1000.0, 2: 1300.0, 3: 1100.0}
    estimate = ratio(mine, theirs)
    assert estimate is not None
    assert (estimate.median, estimate.low, estimate.high, estimate.n) == (2.0, 2.0, 2.0, 3)
    lower_is_better = ratio({1: 10.0}, {1: 40.0}, higher=False)
    assert lower_is_better is not None and lower_is_better.median == 4.0
    assert ratio({1: 0.0}, {1: 5.0}) is None
    assert interval([1.0, 2.0]).overlaps(interval([1.5, 3.0]))
    with pytest.raises(ValueError):
        interval([])
