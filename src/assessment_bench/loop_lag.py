"""Event-loop lag of an ASGI variant during one scenario, read from its /metrics.

The app samples how late its loop wakes a 25 ms timer into a histogram
(`event_loop_lag_seconds`); the bench scrapes it before and after a scenario and reads the
quantiles of the difference the way Prometheus' histogram_quantile does (linear within a
bucket). Variants without the histogram (the Flask twin) have no figure. The app's garbage
collector pauses (`gc_pause_seconds`) are read the same way: a full collection stops the loop.
"""

from __future__ import annotations

import math

import httpx
from prometheus_client.parser import text_string_to_metric_families

Buckets = dict[float, float]  # upper bound (seconds) -> cumulative count
FAMILY = "event_loop_lag_seconds"


GC_FAMILY = "gc_pause_seconds"


def scrape(base_url: str) -> tuple[Buckets, dict[str, float]] | None:
    """The lag histogram's cumulative buckets, and the full collections' count and seconds
    so far, from the /metrics at `base_url` (the app's metrics port); None when the server
    has no lag histogram."""
    if not base_url:
        return None
    try:
        response = httpx.get(f"{base_url}/metrics", timeout=5)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    buckets: Buckets = {}
    full_gc = {"count": 0.0, "seconds": 0.0}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:  # several workers' samples add up
            if family.name == FAMILY and sample.name == f"{FAMILY}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif family.name == GC_FAMILY and sample.labels.get("generation") == "2":
                if sample.name == f"{GC_FAMILY}_count":
                    full_gc["count"] += sample.value
                elif sample.name == f"{GC_FAMILY}_sum":
                    full_gc["seconds"] += sample.value
    return (buckets, full_gc) if buckets else None


def quantile(q: float, buckets: Buckets) -> float:
    """histogram_quantile(q) over cumulative buckets, in seconds (the largest finite bound
    when the quantile falls in the +Inf bucket)."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return 0.0
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return lower


def lag_between(before_scrape: tuple[Buckets, dict[str, float]] | None,
                after_scrape: tuple[Buckets, dict[str, float]] | None) -> dict[str, float] | None:
    """p50/p99 (ms), the bucket the worst sample fell in, the sample count, and the full
    garbage collections (count, total ms), between two scrapes."""
    if before_scrape is None or after_scrape is None:
        return None
    (before, gc_before), (after, gc_after) = before_scrape, after_scrape
    delta = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
    bounds = sorted(delta)
    samples = delta[bounds[-1]]
    if samples <= 0:
        return None
    worst = next(bound for bound in bounds if delta[bound] >= samples)
    finite = [b for b in bounds if not math.isinf(b)]
    return {"p50_ms": round(quantile(0.5, delta) * 1000, 2),
            "p99_ms": round(quantile(0.99, delta) * 1000, 2),
            "max_ms_at_most": round((worst if not math.isinf(worst) else finite[-1]) * 1000, 1),
            "max_over_last_bucket": float(math.isinf(worst)),
            "samples": samples,
            "full_gcs": gc_after["count"] - gc_before["count"],
            "full_gc_ms": round((gc_after["seconds"] - gc_before["seconds"]) * 1000, 1)}
