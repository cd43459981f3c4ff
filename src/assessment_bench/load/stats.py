"""Latency summaries shared by the load generators."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def latency_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99, p99.9, max in milliseconds of latencies given in seconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * percentile(ordered, 0.50), 2),
        "p90_ms": round(1000 * percentile(ordered, 0.90), 2),
        "p99_ms": round(1000 * percentile(ordered, 0.99), 2),
        "p999_ms": round(1000 * percentile(ordered, 0.999), 2),
        "max_ms": round(1000 * (ordered[-1] if ordered else 0.0), 2),
    }
