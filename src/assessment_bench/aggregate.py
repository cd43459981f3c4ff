"""From raw repeats to what the report says: medians with their 95% intervals (stats.py),
the verdict with every ratio's interval and its ties, the notes' own expectations checked,
and the caveats the run itself detected."""

from __future__ import annotations

import statistics
from typing import Any

from assessment_bench import stats
from assessment_bench.scenarios import HEADLINES

SATURATED_CPU = 90.0  # % of one core: a helper process this busy limits what was measured
CURVES = {"growth"}  # scenarios read as curves (report sections of their own), not verdicts


def error_count(figures: Any) -> int:
    """Every error a load generator counted, wherever it sits in the figures; a step that
    probed past the SLO (within_slo false) is expected to fail and does not count."""
    if isinstance(figures, dict):
        if figures.get("within_slo") is False or figures.get("passed") is False:
            return 0
        own = sum(int(v) for v in (figures.get("errors") or {}).values()) \
            if isinstance(figures.get("errors"), dict) else 0
        return own + sum(error_count(v) for k, v in figures.items() if k != "errors")
    if isinstance(figures, list):
        return sum(error_count(v) for v in figures)
    return 0


def spread(values: list[float]) -> dict[str, float]:
    """Median with its 95% interval (bootstrap over the repeats), and min and max."""
    estimate = stats.interval(values)
    return {"median": round(estimate.median, 2), "low": round(estimate.low, 2),
            "high": round(estimate.high, 2), "min": round(min(values), 2),
            "max": round(max(values), 2)}


def measured(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results that count: not the profiled repeat's (py-spy slowed those servers)."""
    return [r for r in results if not r.get("profiled")]


def by_repeat(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[int, float]]]:
    """scenario -> variant -> sample -> headline (the profiled repeat left out). A sample is
    a repeat, or a round of one where a scenario is measured in rounds (runner.py)."""
    table: dict[str, dict[str, dict[int, float]]] = {}
    for result in measured(results):
        table.setdefault(result["scenario"], {}).setdefault(result["variant"], {})[
            int(result.get("sample", result["repeat"]))] = float(result["headline"])
    return table


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> variant -> {median, low, high, min, max, repeats, errors, censored} of
    the headline figure; censored: in some repeat the knee search never found a load the
    variant failed, so the figure is a floor ("≥")."""
    errors: dict[tuple[str, str], int] = {}
    requests: dict[tuple[str, str], int] = {}
    censored: dict[tuple[str, str], bool] = {}
    for result in measured(results):
        key = (result["scenario"], result["variant"])
        errors[key] = errors.get(key, 0) + error_count(result["figures"])
        requests[key] = requests.get(key, 0) + int(result["figures"].get("requests") or 0)
        censored[key] = censored.get(key, False) or bool(result["figures"].get("censored"))
    return {scenario: {variant: spread(list(values.values()))
                       | {"repeats": len(values), "errors": errors[(scenario, variant)],
                          "requests": requests[(scenario, variant)],
                          "censored": censored[(scenario, variant)]}
                       for variant, values in variants.items()}
            for scenario, variants in by_repeat(results).items()}


def loop_lag(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """scenario -> variant -> p99 event-loop lag (ms): median, min and max over the repeats,
    and the full garbage collections in all of them (count, ms)."""
    table: dict[str, dict[str, list[dict[str, float]]]] = {}
    for result in measured(results):
        if result.get("loop_lag"):
            table.setdefault(result["scenario"], {}).setdefault(result["variant"], []).append(
                result["loop_lag"])
    return {scenario: {variant: spread([float(lag["p99_ms"]) for lag in lags])
                       | {"full_gcs": sum(lag.get("full_gcs", 0.0) for lag in lags),
                          "full_gc_ms": round(sum(lag.get("full_gc_ms", 0.0) for lag in lags), 1)}
                       for variant, lags in variants.items()}
            for scenario, variants in table.items()}


MAY_FAIL = 0.001  # of a throughput scenario's requests, for its variant still to win it


def failed_too_often(figure: dict[str, Any]) -> bool:
    errors, requests = figure.get("errors", 0), figure.get("requests", 0)
    return bool(errors and (not requests or errors > MAY_FAIL * requests))


def verdict(summary: dict[str, dict[str, dict[str, Any]]], baseline: str,
            scenarios: list[str], results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scenario: each variant's median and interval, its ratio to the baseline with the
    ratio's interval (over the repeats both ran, stats.ratio), and the winner: the best
    median, tied with every variant whose interval overlaps the best's."""
    repeats = by_repeat(results)
    rows = []
    for scenario in scenarios:
        values = summary.get(scenario)
        if not values or scenario in CURVES:
            continue
        _, unit, higher = HEADLINES[scenario]
        base = repeats[scenario].get(baseline, {})
        cells = {}
        for variant, figure in values.items():
            ratio = stats.ratio(repeats[scenario][variant], base, higher) if base else None
            cells[variant] = {**figure, "ratio_to_baseline": None if ratio is None else {
                "median": round(ratio.median, 3), "low": round(ratio.low, 3),
                "high": round(ratio.high, 3)}}
        # A variant that answered with errors cannot win: its figure is not the same work.
        # Where the requests were counted, a few in many thousands (at most MAY_FAIL of
        # them) do not change the work; they are still shown.
        clean = [v for v in values if not failed_too_often(values[v])] or list(values)
        ranked = sorted(clean, key=lambda v: values[v]["median"], reverse=higher)
        best = values[ranked[0]]
        tied = [v for v in ranked[1:]
                if values[v]["low"] <= best["high"] and best["low"] <= values[v]["high"]]
        winner = f"tie: {', '.join([ranked[0], *tied])}" if tied else ranked[0]
        rows.append({"scenario": scenario, "unit": unit, "higher_is_better": higher,
                     "baseline": baseline, "values": cells, "winner": winner,
                     "leaders": [ranked[0], *tied]})
    return rows


# What each scenario's work cost the server: CPU ms of its process tree per unit of work.
COSTS = {
    "phq-save": ("cpu_ms_per_request", "CPU ms per request (saves and submits)"),
    "db-latency": ("cpu_ms_per_request", "CPU ms per request, slow database link"),
    "chat-stream": ("cpu_ms_per_chat", "CPU ms per chat (40 tokens relayed)"),
    "camera-upload": ("cpu_ms_per_mb", "CPU ms per MB uploaded"),
    "assessment-flow": ("cpu_ms_per_flow", "CPU ms per whole assessment, at the knee"),
}


def costs(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> variant -> the cost's median and interval over the repeats; for the flow,
    also the server cores 1,000 participants at once need at the knee."""
    table: dict[str, dict[str, dict[str, list[float]]]] = {}
    for result in measured(results):
        if result["scenario"] not in COSTS:
            continue
        key = COSTS[result["scenario"]][0]
        cell = table.setdefault(result["scenario"], {}).setdefault(result["variant"], {})
        for name in (key, "cores_per_1000_participants"):
            value = result["figures"].get(name)
            if value is not None:
                cell.setdefault(name, []).append(float(value))
    return {scenario: {variant: {name: spread(values) for name, values in cell.items()}
                       for variant, cell in variants.items()}
            for scenario, variants in table.items()}


def growth(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """variant -> its growth curve's ends and the memory each held connection cost."""
    table = {}
    for result in measured(results):
        if result["scenario"] != "growth":
            continue
        curve, memory = result["figures"]["curve"], result["figures"]["memory"]
        table[result["variant"]] = {
            "fewest": curve[0], "most": curve[-1],
            "memory": {f"{m['kind']} {m['asked']}": m for m in memory}}
    return table


def overload(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """variant -> one row per offered chat load of its (first measured) overload curve."""
    table: dict[str, list[dict[str, Any]]] = {}
    for result in measured(results):
        if result["scenario"] != "overload" or result["variant"] in table:
            continue
        table[result["variant"]] = [{
            "offered": step["offered_chats_per_s"], "factor": step["factor"],
            "p50_ms": step["probe"].get("p50_ms"), "p99_ms": step["probe"].get("p99_ms"),
            "max_ms": step["probe"].get("max_ms"),
            "goodput": step["chats"].get("goodput_per_s"),
            "refused": step["chats"].get("refused", 0),
            "refused_max_ms": step["chats"].get("refused_max_ms"),
            "cut": step["chats"].get("errors", {}).get("cut at the deadline", 0),
            "late_ms": step["chats"].get("send_lateness_p99_ms"),
            "busy": step.get("server_cores_busy")} for step in result["figures"]["steps"]]
    return table


def first(results: list[dict[str, Any]], variant: str, scenario: str) -> list[dict[str, Any]]:
    return [r for r in measured(results)
            if r["variant"] == variant and r["scenario"] == scenario]


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
         lambda f: f.get("knee_flows_per_min"), "flows/min within the SLOs"),
    ]
    out = []
    for label, expected, scenario, pick, how in rows:
        measured = {v: median_of(v, scenario, pick) for v in variants}
        out.append({"what": label, "notes_expect": expected, "scenario": scenario,
                    "measured_as": how, "measured": measured})
    return out


HELPERS_BUSY = 85.0  # % of the helper cores, on average over a scenario
HELPERS_BURST = 95.0  # % of the helper cores at the 95th percentile of 0.1 s samples
SERVER_BUSY = 90.0  # % of the server's core: below it, a throughput figure is not the server's
FAKE_LLM_LATE_MS = 20.0  # p99 lateness of the fake LLM's tokens against its own cadence
# What limits a throughput scenario when the server's core had room to spare.
BOTTLENECKS = {
    "phq-save": "the database: every save waits for a pooled connection and its round trip",
    "db-latency": "the slow link to the database: round trips per save, times the delay, "
                  "over the pooled connections",
    "chat-stream": "the upstream's pace: each stream waits for the fake LLM's tokens (see "
                   "of_ideal), or the worker's thread count",
    "camera-upload": "the disk or the client sending the frames",
}
THROUGHPUT = tuple(BOTTLENECKS)


def detect_caveats(results: list[dict[str, Any]], helper_cores: int = 1) -> list[str]:
    """What the run says about itself: helpers that may have limited a figure, a server that
    was not the bottleneck of its own throughput figure, a generator or fake LLM that fell
    behind its schedule, failed requests. One line per variant and scenario."""
    found: dict[tuple[str, str, str], list[str]] = {}

    def note(result: dict[str, Any], kind: str, detail: str) -> None:
        where = f"repeat {result['repeat']}" + (f" round {result['round'] + 1}"
                                                 if "round" in result else "")
        found.setdefault((result["variant"], result["scenario"], kind), []).append(
            f"{where}: {detail}")

    for result in results:
        resources = result["resources"]
        helpers = resources.get("helper_cores")
        capacity = 100.0 * helper_cores
        if helpers and (helpers["cpu_percent"] > HELPERS_BUSY / 100 * capacity
                        or helpers["p95_cpu_percent"] > HELPERS_BURST / 100 * capacity):
            note(result, "the helper core(s) (PostgreSQL, the fake LLM, the load generators "
                 "and the bench) were nearly saturated, so they may have limited the figure",
                 f"{helpers['cpu_percent']:.0f}% on average, {helpers['p95_cpu_percent']:.0f}%"
                 f" p95 of {capacity:.0f}%")
        for helper in ("load_generator", "postgres", "fake_llm"):
            cpu = resources.get(helper, {}).get("cpu_percent", 0)
            if cpu >= SATURATED_CPU:
                note(result, f"the {helper.replace('_', ' ')} used most of a core, so it may "
                     "have limited the figure", f"{cpu:.0f}%")
        server = resources.get("server", {}).get("cpu_percent", 100.0)
        if result["scenario"] in THROUGHPUT and server < SERVER_BUSY:
            note(result, "the server's core was under 90% busy: the bottleneck was "
                 + BOTTLENECKS[result["scenario"]], f"{server:.0f}%")
        late = [step for step in result["figures"].get("steps", [])
                if step.get("generator_late")]
        for step in late:
            note(result, "the open-loop generator sent late (its step cannot pass)",
                 f"{step['load']:,.0f}/s, p99 {step['send_lateness_p99_ms']:.1f} ms late")
        if result["figures"].get("confirmed") is False:
            tried = ", ".join(f"{c['load']:,.0f}/s p99 {c['p99_ms']:,.0f} ms"
                              for c in result["figures"].get("confirmations", []))
            note(result, "the knee the short steps found failed every longer step (12 s), so "
                 "the figure is below the last one tried, not a load seen to hold", tried)
        fake = result.get("fake_llm") or {}
        if fake.get("lateness_p99_ms", 0) > FAKE_LLM_LATE_MS:
            note(result, "the fake LLM fell behind its own token cadence, so streams were "
                 "slower than the profile says", f"p99 {fake['lateness_p99_ms']:.0f} ms late")
        errors = error_count(result["figures"])
        if errors:
            note(result, "requests failed (see results.json); this variant cannot win the "
                 "scenario", f"{errors:,}")
    return [f"{variant} {scenario}: {kind} ({'; '.join(details)})."
            for (variant, scenario, kind), details in found.items()]
