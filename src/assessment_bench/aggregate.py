"""From raw repeats to what the report says: medians with min-max, the verdict, the notes'
own expectations checked, and the caveats the run itself detected."""

from __future__ import annotations

import statistics
from typing import Any

from assessment_bench.scenarios import HEADLINES

SATURATED_CPU = 90.0  # % of one core: a helper process this busy limits what was measured
TIE = 0.05  # medians closer than this are within this machine's run-to-run noise


def close(a: float, b: float) -> bool:
    return abs(a - b) <= TIE * max(abs(a), abs(b), 1e-9)


def error_count(figures: Any) -> int:
    """Every error a load generator counted, wherever it sits in the figures; a step that
    probed past the SLO (within_slo false) is expected to fail and does not count."""
    if isinstance(figures, dict):
        if figures.get("within_slo") is False:
            return 0
        own = sum(int(v) for v in (figures.get("errors") or {}).values()) \
            if isinstance(figures.get("errors"), dict) else 0
        return own + sum(error_count(v) for k, v in figures.items() if k != "errors")
    if isinstance(figures, list):
        return sum(error_count(v) for v in figures)
    return 0


def spread(values: list[float]) -> dict[str, float]:
    """Median with min and max, as every figure over repeats is reported."""
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """scenario -> variant -> {median, min, max, repeats} of the headline figure."""
    table: dict[str, dict[str, list[float]]] = {}
    for result in results:
        table.setdefault(result["scenario"], {}).setdefault(result["variant"], []).append(
            float(result["headline"]))
    errors: dict[tuple[str, str], int] = {}
    for result in results:
        key = (result["scenario"], result["variant"])
        errors[key] = errors.get(key, 0) + error_count(result["figures"])
    return {scenario: {variant: spread(values) | {"repeats": len(values),
                                                  "errors": errors[(scenario, variant)]}
                       for variant, values in variants.items()}
            for scenario, variants in table.items()}


def loop_lag(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """scenario -> variant -> p99 event-loop lag (ms): median, min and max over the repeats,
    and the full garbage collections in all of them (count, ms)."""
    table: dict[str, dict[str, list[dict[str, float]]]] = {}
    for result in results:
        if result.get("loop_lag"):
            table.setdefault(result["scenario"], {}).setdefault(result["variant"], []).append(
                result["loop_lag"])
    return {scenario: {variant: spread([float(lag["p99_ms"]) for lag in lags])
                       | {"full_gcs": sum(lag.get("full_gcs", 0.0) for lag in lags),
                          "full_gc_ms": round(sum(lag.get("full_gc_ms", 0.0) for lag in lags), 1)}
                       for variant, lags in variants.items()}
            for scenario, variants in table.items()}


def verdict(summary: dict[str, dict[str, dict[str, float]]], baseline: str,
            scenarios: list[str]) -> list[dict[str, Any]]:
    rows = []
    for scenario in scenarios:
        values = summary.get(scenario)
        if not values:
            continue
        _, unit, higher = HEADLINES[scenario]
        base = values.get(baseline, {}).get("median")
        cells = {}
        for variant, figure in values.items():
            ratio = None
            if base and (higher or figure["median"]):
                ratio = figure["median"] / base if higher else base / figure["median"]
            cells[variant] = {**figure,
                              "ratio_to_baseline": round(ratio, 3) if ratio is not None else None}
        # A variant that answered with errors cannot win: its figure is not the same work.
        clean = [v for v in values if not values[v].get("errors")] or list(values)
        ranked = sorted(clean, key=lambda v: values[v]["median"], reverse=higher)
        winner = ranked[0]
        if len(ranked) > 1 and close(values[ranked[0]]["median"], values[ranked[1]]["median"]):
            winner = f"tie: {ranked[0]}, {ranked[1]} (within {TIE:.0%})"
        rows.append({"scenario": scenario, "unit": unit, "higher_is_better": higher,
                     "baseline": baseline, "values": cells, "winner": winner})
    return rows


def first(results: list[dict[str, Any]], variant: str, scenario: str) -> list[dict[str, Any]]:
    return [r for r in results if r["variant"] == variant and r["scenario"] == scenario]


def expectations(results: list[dict[str, Any]], variants: list[str]) -> list[dict[str, Any]]:
    """The gevent plan's expected numbers against what each variant measured (medians)."""
    def median_of(variant: str, scenario: str, pick: Any) -> float | None:
        found = [pick(r["figures"]) for r in first(results, variant, scenario)]
        found = [f for f in found if f is not None]
        return round(statistics.median(found), 1) if found else None

    def open_p50(figures: dict[str, Any]) -> float | None:
        steps = figures.get("steps") or []
        return steps[0]["p50_ms"] if steps else None

    rows = [
        ("PHQ response save", "10-20 ms", "phq-open", open_p50,
         "p50 ms at the lowest open-loop rate"),
        ("LLM chat response", "50-100 ms", "chat-stream", lambda f: f.get("ttft_p50_ms"),
         "time to first token p50, ms, at the chat-stream load"),
        ("Camera batch upload", "20-50 ms", "camera-upload", lambda f: f.get("p50_ms"),
         "p50 ms per 5 MB frame upload under concurrent uploads"),
        ("Concurrent users", "significantly higher capacity", "assessment-flow",
         lambda f: f.get("max_flows_per_min_within_slo"), "flows/min within the SLOs"),
    ]
    out = []
    for label, expected, scenario, pick, how in rows:
        measured = {v: median_of(v, scenario, pick) for v in variants}
        out.append({"what": label, "notes_expect": expected, "scenario": scenario,
                    "measured_as": how, "measured": measured})
    return out


def detect_caveats(results: list[dict[str, Any]]) -> list[str]:
    caveats = []
    for result in results:
        where = f"{result['variant']} {result['scenario']} (repeat {result['repeat']})"
        resources = result["resources"]
        for helper in ("load_generator", "postgres", "fake_llm"):
            cpu = resources.get(helper, {}).get("cpu_percent", 0)
            if cpu >= SATURATED_CPU:
                caveats.append(f"{where}: the {helper.replace('_', ' ')} used {cpu:.0f}% of a "
                               "core, so it may have limited the figure, not the server.")
        errors = error_count(result["figures"])
        if errors:
            caveats.append(f"{where}: {errors:,} requests failed (see results.json); this "
                           "variant cannot win the scenario.")
    return caveats
