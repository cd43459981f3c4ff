from __future__ import annotations

from typing import Any

from assessment_bench.aggregate import detect_caveats, summarise, verdict


def result(variant: str, scenario: str, headline: float, repeat: int = 1,
           loadgen_cpu: float = 10.0, errors: dict[str, int] | None = None) -> dict[str, Any]:
    return {"variant": variant, "scenario": scenario, "repeat": repeat, "headline": headline,
            "figures": {"errors": errors or {}},
            "resources": {"load_generator": {"cpu_percent": loadgen_cpu, "rss_mb": 1.0}}}


def test_medians_and_ratios_point_the_right_way() -> None:
    results = [result("asgi", "phq-save", v, i) for i, v in enumerate([900, 1000, 1100], 1)]
    results += [result("gevent-green", "phq-save", 500), result("asgi", "hol", 10),
                result("gevent-green", "hol", 40)]
    summary = summarise(results)
    assert summary["phq-save"]["asgi"] == {"median": 1000, "min": 900, "max": 1100,
                                           "repeats": 3, "errors": 0}
    rows = {r["scenario"]: r for r in verdict(summary, "gevent-green", ["phq-save", "hol"])}
    assert rows["phq-save"]["values"]["asgi"]["ratio_to_baseline"] == 2.0
    assert rows["hol"]["values"]["asgi"]["ratio_to_baseline"] == 4.0  # lower is better
    assert rows["hol"]["winner"] == "asgi"


def test_close_medians_are_a_tie() -> None:
    summary = summarise([result("asgi", "phq-save", 1000), result("gthread", "phq-save", 980)])
    [row] = verdict(summary, "gthread", ["phq-save"])
    assert row["winner"].startswith("tie")


def test_a_saturated_load_generator_and_errors_are_flagged() -> None:
    caveats = detect_caveats([result("asgi", "phq-save", 1, loadgen_cpu=97),
                              result("gevent", "hol", 1, errors={"http 503": 3})])
    assert any("load generator used 97%" in c for c in caveats)
    assert any("gevent hol (repeat 1): 3 requests failed" in c for c in caveats)


def test_errors_are_counted_wherever_they_sit_but_not_past_the_slo() -> None:
    from assessment_bench.aggregate import error_count

    figures = {"errors": {"http 500": 2}, "chats": {"errors": {"event error": 3}},
               "steps": [{"within_slo": True, "errors": {"x": 1}},
                         {"within_slo": False, "errors": {"TimeoutError": 50}}]}
    assert error_count(figures) == 6


def test_a_variant_with_errors_cannot_win() -> None:
    summary = summarise([result("asgi", "hol", 50), result("gevent-phase2", "hol", 10,
                                                           errors={"http 500": 900})])
    [row] = verdict(summary, "asgi", ["hol"])
    assert row["winner"] == "asgi"
    assert row["values"]["gevent-phase2"]["errors"] == 900
