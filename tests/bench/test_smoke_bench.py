"""The whole bench pipeline, in seconds per scenario: it must write a complete, schema-valid
report. No timing is asserted; the figures of a smoke run mean nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from assessment_bench.compare import compare
from assessment_bench.modes import SCENARIOS
from assessment_bench.report import SCHEMA

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(name="smoke_run", scope="session")
def _smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "smoke"
    # As a user runs it: the bench makes its own database on the embedded server.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run([sys.executable, "-m", "assessment_bench.cli", "run", "--smoke",
                             "--profile", "--out", str(out)], env=env, capture_output=True,
                            text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"report: {out / 'report.html'}" in result.stdout
    return out


def test_the_smoke_bench_writes_a_complete_valid_report(smoke_run: Path) -> None:
    document = json.loads((smoke_run / "results.json").read_text())
    jsonschema.validate(document, SCHEMA)
    measured = {(r["variant"], r["scenario"]) for r in document["results"]}
    assert measured == {(v, s) for v in ("asgi", "gevent-green") for s in SCENARIOS}
    assert not [c for c in document["caveats"] if "failed" in c], document["caveats"]
    assert document["ceiling"][0]["saves_per_s"] > 0
    # growth is read as curves and its own table, not as a verdict row.
    assert [row["scenario"] for row in document["verdict"]] == [s for s in SCENARIOS
                                                                if s != "growth"]
    growth = document["growth"]["asgi"]
    assert growth["most"]["connections"] > growth["fewest"]["connections"]
    assert {key for key in growth["memory"]} == {"idle 20", "streams 20"}
    assert all(m["opened"] == 20 and m["kib_each"] is not None
               for m in growth["memory"].values())
    assert document["costs"]["phq-save"]["asgi"]["cpu_ms_per_request"]["median"] > 0
    # The ASGI app's loop lag is read from its /metrics around every scenario; the twin has
    # no event loop histogram.
    for result in document["results"]:
        lag = result["loop_lag"]
        if result["variant"] == "asgi":
            assert lag["samples"] > 0 and lag["p99_ms"] >= lag["p50_ms"] >= 0, result
        else:
            assert lag is None
    assert set(document["loop_lag"]["phq-save"]) == {"asgi"}
    # overload: the churn beside the probe, per offered load.
    [overload] = [r["figures"] for r in document["results"]
                  if r["scenario"] == "overload" and r["variant"] == "asgi"
                  and not r.get("profiled")]
    assert overload["steps"] and overload["steps"][0]["chats"]["completed"] > 0
    assert overload["steps"][0]["probe"]["requests"] > 0
    for name in ("report.md", "report.html", "ratios.png", "throughput.png",
                 "latency_vs_load.png", "hol.png", "ttft.png", "uploads.png", "growth.png",
                 "profile.png", "overload.png"):
        assert (smoke_run / name).stat().st_size > 0, name
    html = (smoke_run / "report.html").read_text()
    assert "data:image/png;base64," in html and 'src="http' not in html
    markdown = (smoke_run / "report.md").read_text()
    # The report leads with one picture: every ratio to the plan, with its interval.
    assert markdown.index("## Verdict") < markdown.index("](ratios.png)") \
        < markdown.index("| scenario |")
    assert markdown.index("## Verdict") < markdown.index("expectations") \
        < markdown.index("## Event-loop lag") < markdown.index("## Where the server's time") \
        < markdown.index("## Environment") < markdown.index("## Caveats")
    assert str(ROOT) not in markdown and str(ROOT) not in html


def test_a_profiled_run_keeps_each_scenarios_stacks_and_layers(smoke_run: Path) -> None:
    document = json.loads((smoke_run / "results.json").read_text())
    saves = {r["variant"]: r["profile"] for r in document["results"]
             if r["scenario"] == "phq-save" and r.get("profiled")}
    # The profiled repeat is repeat 0, apart from the measured ones: no median includes it.
    assert {r["repeat"] for r in document["results"] if r.get("profiled")} == {0}
    assert all("profile" not in r for r in document["results"] if r["repeat"] == 1)
    for variant in ("asgi", "gevent-green"):  # a single process, and gunicorn's worker
        profile = saves[variant]
        assert profile["samples"] > 10 and profile["waiting_samples"] >= 0, profile
        assert 99 <= sum(profile["layers"].values()) <= 101, profile
        assert profile["layers"]["framework"] > 0 and profile["layers"]["database"] > 0
        stacks = (smoke_run / profile["file"]).read_text()
        assert str(ROOT) not in stacks
        assert all(line.startswith("process:server") for line in stacks.splitlines())
    twin = (smoke_run / saves["gevent-green"]["file"]).read_text()
    assert "process:server;process:worker;" in twin and "flask/" in twin  # gunicorn's worker
    assert "quart/" in (smoke_run / saves["asgi"]["file"]).read_text()
    assert not [c for c in document["caveats"] if "not profiled" in c], document["caveats"]
    assert document["run"]["profile"] == ["asgi", "gevent-green"]
    markdown = (smoke_run / "report.md").read_text()
    assert f"]({saves['asgi']['file']})" in markdown


def test_compare_puts_two_runs_side_by_side(smoke_run: Path) -> None:
    table = compare(smoke_run, smoke_run)
    assert "| phq-save | asgi |" in table
    assert table.count("+0.0%") == len(SCENARIOS) * 2  # growth's headline too
    assert "Warning" not in table


def test_a_run_records_every_installed_version_and_the_lock(smoke_run: Path) -> None:
    environment = json.loads((smoke_run / "results.json").read_text())["environment"]
    installed = environment["distributions"]
    for name in ("quart", "werkzeug", "httptools", "pydantic-core", "quart-schema",
                 "prometheus-client", "gevent", "psycopg2-binary"):
        assert installed[name], name
    lock = hashlib.sha256((ROOT / "requirements.lock").read_bytes()).hexdigest()
    assert environment["lock_sha256"] == lock


def test_compare_warns_when_two_runs_ran_other_versions(smoke_run: Path, tmp_path: Path) -> None:
    other = json.loads((smoke_run / "results.json").read_text())
    quart = other["environment"]["distributions"]["quart"]
    other["environment"]["distributions"]["quart"] = "0.1.0"
    del other["environment"]["distributions"]["gevent"]
    other["environment"]["lock_sha256"] = "0" * 64
    (tmp_path / "results.json").write_text(json.dumps(other))
    table = compare(smoke_run, tmp_path)
    warning = table[:table.index("| scenario |")]
    assert "did not run the same software" in warning
    assert "the lock files differ" in warning
    assert f"- quart {quart} -> 0.1.0" in warning
    assert f"- gevent {other['environment']['versions']['gevent']} -> absent" in warning


def test_a_report_can_be_written_again_from_its_results(smoke_run: Path,
                                                        tmp_path: Path) -> None:
    import shutil

    from assessment_bench.report import rerender

    copy = tmp_path / "again"
    shutil.copytree(smoke_run, copy)
    (copy / "report.md").unlink()
    rerender(copy)
    again = json.loads((copy / "results.json").read_text())
    jsonschema.validate(again, SCHEMA)
    original = json.loads((smoke_run / "results.json").read_text())
    assert again["results"] == original["results"]
    assert again["run"]["finished_at"] == original["run"]["finished_at"]
    assert (copy / "report.md").read_text().startswith("# assessment-bench: smoke run")


def test_a_reliability_run_in_the_folder_becomes_a_report_section(
    smoke_run: Path, tmp_path: Path,
) -> None:
    import shutil

    from assessment_bench.reliability import suite
    from assessment_bench.reliability.result import FaultResult
    from assessment_bench.report import rerender

    copy = tmp_path / "with-faults"
    shutil.copytree(smoke_run, copy)
    results = [
        FaultResult("sigterm-mid-load", "asgi", True, {"acknowledged": 812, "lost": 0}),
        FaultResult("sigterm-mid-load", "gevent-green", False, {"acknowledged": 640, "lost": 3},
                    "3 acknowledged answers missing"),
    ]
    suite.write(suite.document(results, ["asgi", "gevent-green"], ["sigterm-mid-load"]), copy)
    rerender(copy)
    document = json.loads((copy / "results.json").read_text())
    jsonschema.validate(document, SCHEMA)
    assert [r["passed"] for r in document["reliability"]["results"]] == [True, False]
    markdown = (copy / "report.md").read_text()
    section = markdown[markdown.index("## Reliability"):markdown.index("## Plots")]
    assert "| sigterm-mid-load |" in section
    assert "✓ lost 0, acknowledged 812" in section
    assert "✗ lost 3, acknowledged 640 (3 acknowledged answers missing)" in section
    html = (copy / "report.html").read_text()
    assert '<td class="text fail">✗ lost 3' in html
