"""What a full run measures of each variant, which is what sizes it to fit its time."""

from __future__ import annotations

from pathlib import Path

from assessment_bench.modes import MEASURED, MODES
from assessment_bench.runner import Bench, RunConfig


def plan(tmp_path: Path) -> Bench:
    mode = MODES["full"]
    return Bench(RunConfig(mode=mode, variants=list(mode.variants), scenarios=list(MEASURED),
                           repeats=mode.repeats, out=tmp_path,
                           profile=("asgi", "gevent-green")))


def test_each_tier_of_variant_runs_what_shows_its_difference(tmp_path: Path) -> None:
    bench = plan(tmp_path)
    # The rewrite, the plan, the best honest gevent app and the threaded baseline: all.
    for name in ("asgi", "gevent-green", "gevent-tuned"):
        assert bench.scenarios_of(name, 1) == list(MEASURED)
        # Curves are drawn once.
        assert not {"growth", "overload"} & set(bench.scenarios_of(name, 2))
    # gthread has no chat admission to price under overload.
    assert bench.scenarios_of("gthread", 1) == [s for s in MEASURED if s != "overload"]
    # The other servers: what a server changes; no knee, no whole assessment.
    assert bench.scenarios_of("asgi-hypercorn", 1) == ["phq-save", "chat-stream",
                                                       "camera-upload", "db-latency"]
    # A lever: where it acts.
    assert bench.scenarios_of("asgi-no-group-commit", 2) == ["phq-save", "db-latency"]
    assert bench.scenarios_of("gevent-tuned-no-group-commit", 2) == ["phq-save", "db-latency"]
    assert bench.scenarios_of("asgi-no-admission", 1) == ["phq-save", "chat-stream",
                                                          "overload"]
    assert bench.scenarios_of("gevent-tuned-no-admission", 1) == ["overload"]
    # The deployment's hops: saves and uploads through them.
    assert bench.scenarios_of("asgi-proxied", 1) == ["phq-save", "camera-upload"]
    assert bench.scenarios_of("asgi-pgbouncer", 1) == ["phq-save"]
    # The pitfalls: where their pitfall shows.
    assert bench.scenarios_of("gevent-phase2", 3) == ["phq-save", "chat-stream",
                                                      "camera-upload", "db-latency"]
    # The profiled repeat samples the closed-loop scenarios only.
    assert bench.scenarios_of("asgi", 0) == ["phq-save", "chat-stream", "camera-upload",
                                             "db-latency"]


def test_every_variant_is_in_the_reference_run() -> None:
    from assessment_bench.variants import VARIANTS

    assert set(MODES["full"].variants) == set(VARIANTS)


def test_phq_save_is_measured_in_rounds_of_every_variant(tmp_path: Path) -> None:
    bench = plan(tmp_path)
    assert bench.paired(1) and not bench.paired(0)  # py-spy's repeat measures as before
    assert MODES["full"].paired_rounds >= 2
    # Every variant but one lever's switch measures phq-save, so all of them are in the rounds.
    assert [name for name in MODES["full"].variants
            if "phq-save" not in bench.scenarios_of(name, 1)] == ["gevent-tuned-no-admission"]
