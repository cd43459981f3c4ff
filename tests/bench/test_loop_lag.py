"""Reading the event-loop lag histogram as Prometheus' histogram_quantile does."""

from __future__ import annotations

import math

from assessment_bench.loop_lag import lag_between, quantile

INF = math.inf


def test_quantiles_interpolate_within_a_bucket() -> None:
    buckets = {0.001: 50.0, 0.002: 90.0, 0.005: 100.0, INF: 100.0}
    assert quantile(0.5, buckets) == 0.001
    assert math.isclose(quantile(0.7, buckets), 0.0015)
    assert math.isclose(quantile(0.99, buckets), 0.002 + 0.003 * 0.9)


NO_GC = {"count": 0.0, "seconds": 0.0}


def test_only_the_samples_between_two_scrapes_count() -> None:
    before = {0.001: 1000.0, 0.01: 1000.0, 0.1: 1000.0, INF: 1000.0}
    after = {0.001: 1090.0, 0.01: 1099.0, 0.1: 1100.0, INF: 1100.0}
    lag = lag_between((before, {"count": 3.0, "seconds": 0.1}),
                      (after, {"count": 5.0, "seconds": 0.1425}))
    assert lag is not None
    assert lag["samples"] == 100
    assert lag["max_ms_at_most"] == 100.0
    assert 1 < lag["p99_ms"] <= 10
    assert lag["max_over_last_bucket"] == 0.0
    assert (lag["full_gcs"], lag["full_gc_ms"]) == (2.0, 42.5)


def test_no_histogram_or_no_samples_is_no_figure() -> None:
    assert lag_between(None, ({0.001: 1.0, INF: 1.0}, NO_GC)) is None
    same = {0.001: 5.0, INF: 5.0}
    assert lag_between((same, NO_GC), (dict(same), NO_GC)) is None
    assert lag_between(({INF: 0.0}, NO_GC), ({0.001: 0.0, INF: 2.0}, NO_GC)) == {
        "p50_ms": 1.0, "p99_ms": 1.0, "max_ms_at_most": 1.0, "max_over_last_bucket": 1.0,
        "samples": 2.0, "full_gcs": 0.0, "full_gc_ms": 0.0}
