from __future__ import annotations

from typing import Any

from assessment_bench.aggregate import detect_caveats, error_count, overload, summarise, verdict


def result(variant: str, scenario: str, headline: float, repeat: int = 1,
           loadgen_cpu: float = 10.0, errors: dict[str, int] | None = None,
           server_cpu: float = 99.0, helpers: dict[str, float] | None = None,
           **figures: Any) -> dict[str, Any]:
    resources: dict[str, Any] = {"load_generator": {"cpu_percent": loadgen_cpu, "rss_mb": 1.0},
                                 "server": {"cpu_percent": server_cpu}}
    if helpers:
        resources["helper_cores"] = helpers
    return {"variant": variant, "scenario": scenario, "repeat": repeat, "headline": headline,
            "figures": {"errors": errors or {}, **figures}, "resources": resources}


def repeats(variant: str, scenario: str, values: list[float]) -> list[dict[str, Any]]:
    return [result(variant, scenario, v, n) for n, v in enumerate(values, 1)]


def test_medians_come_with_intervals_and_ratios_with_paired_intervals() -> None:
    results = repeats("asgi", "phq-save", [900, 1000, 1100, 1000, 950])
    results += repeats("gevent-green", "phq-save", [450, 500, 550, 500, 475])
    results += repeats("asgi", "hol", [10, 10, 10]) + repeats("gevent-green", "hol", [40, 40, 40])
    summary = summarise(results)
    asgi = summary["phq-save"]["asgi"]
    assert (asgi["median"], asgi["min"], asgi["max"], asgi["repeats"]) == (1000, 900, 1100, 5)
    assert 900 <= asgi["low"] < 1000 < asgi["high"] <= 1100
    rows = {r["scenario"]: r for r in verdict(summary, "gevent-green", ["phq-save", "hol"],
                                              results)}
    # Each repeat of asgi ran beside the same repeat of gevent-green: their ratio is 2 every
    # time, so the interval is 2 to 2 although each side's own figures spread.
    assert rows["phq-save"]["values"]["asgi"]["ratio_to_baseline"] == {
        "median": 2.0, "low": 2.0, "high": 2.0}
    assert rows["hol"]["values"]["asgi"]["ratio_to_baseline"]["median"] == 4.0  # lower is better
    assert rows["hol"]["winner"] == "asgi"


def test_overlapping_intervals_are_a_tie_naming_every_variant_tied() -> None:
    results = (repeats("asgi", "camera-upload", [270, 276, 290])
               + repeats("gthread", "camera-upload", [262, 271, 280])
               + repeats("gevent-green", "camera-upload", [240, 243, 250])
               + repeats("gevent", "camera-upload", [100, 101, 102]))
    [row] = verdict(summarise(results), "gevent-green", ["camera-upload"], results)
    assert row["winner"] == "tie: asgi, gthread"
    assert row["leaders"] == ["asgi", "gthread"]


def test_a_knee_never_failed_is_censored() -> None:
    results = [result("asgi", "phq-open", 8000, censored=True),
               result("gthread", "phq-open", 1500, censored=False)]
    summary = summarise(results)
    assert summary["phq-open"]["asgi"]["censored"] is True
    assert summary["phq-open"]["gthread"]["censored"] is False


def test_helpers_a_server_with_room_and_errors_are_flagged() -> None:
    caveats = detect_caveats([
        result("asgi", "phq-save", 1, loadgen_cpu=97),
        result("asgi", "chat-stream", 1, helpers={"cpu_percent": 70, "p95_cpu_percent": 99}),
        result("gevent-green", "phq-save", 1, server_cpu=80),
        result("gevent", "hol", 1, errors={"http 503": 3})], helper_cores=1)
    assert "asgi phq-save: the load generator used most of a core, so it may have limited " \
        "the figure (repeat 1: 97%)." in caveats
    assert any(c.startswith("asgi chat-stream: the helper core(s)") and "99% p95" in c
               for c in caveats)
    assert any(c.startswith("gevent-green phq-save: the server's core was under 90% busy: "
                            "the bottleneck was the database") for c in caveats)
    assert any(c.startswith("gevent hol: requests failed") and "3)" in c for c in caveats)


def test_errors_are_counted_wherever_they_sit_but_not_past_the_slo() -> None:
    figures = {"errors": {"http 500": 2}, "chats": {"errors": {"event error": 3}},
               "steps": [{"within_slo": True, "errors": {"x": 1}},
                         {"within_slo": False, "errors": {"TimeoutError": 50}},
                         {"passed": False, "errors": {"TimeoutError": 70}}]}
    assert error_count(figures) == 6


def test_a_variant_with_errors_cannot_win() -> None:
    results = [result("asgi", "hol", 50), result("gevent-phase2", "hol", 10,
                                                 errors={"http 500": 900})]
    [row] = verdict(summarise(results), "asgi", ["hol"], results)
    assert row["winner"] == "asgi"
    assert row["values"]["gevent-phase2"]["errors"] == 900


def test_the_overload_table_has_a_row_per_offered_load_of_the_first_repeat() -> None:
    step = {"factor": 1.0, "offered_chats_per_s": 145, "server_cores_busy": 0.84,
            "probe": {"p50_ms": 12.0, "p99_ms": 390.0, "max_ms": 461.0},
            "chats": {"goodput_per_s": 105, "refused": 483, "refused_max_ms": 277.0,
                      "send_lateness_p99_ms": 239.0, "errors": {"cut at the deadline": 3}}}
    later = {**step, "probe": {"p99_ms": 999.0}}
    table = overload([result("asgi", "overload", 390, 1, steps=[step]),
                      result("asgi", "overload", 999, 2, steps=[later])])
    assert table == {"asgi": [{"offered": 145, "factor": 1.0, "p50_ms": 12.0, "p99_ms": 390.0,
                               "max_ms": 461.0, "goodput": 105, "refused": 483,
                               "refused_max_ms": 277.0, "cut": 3, "late_ms": 239.0,
                               "busy": 0.84}]}


def test_a_caveat_names_the_round_of_a_paired_sample() -> None:
    rounds = [result("asgi", "phq-save", 1, server_cpu=30) | {"round": n} for n in (0, 1)]
    [caveat] = detect_caveats(rounds, helper_cores=1)
    assert "(repeat 1 round 1: 30%; repeat 1 round 2: 30%)." in caveat
