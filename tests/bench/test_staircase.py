"""The staircase counts each step's code from the tree and prices each step against the one
before it; the 2x2 prices group commit on both runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assessment_bench.staircase import ROOT, STEPS, code_lines, group_commit_grid, staircase


def test_lines_are_statements_without_comments_blank_lines_or_docstrings(
    tmp_path: Path,
) -> None:
    source = tmp_path / "lever.py"
    source.write_text('"""A module."""\n\nimport os\n\n\ndef f(settings):\n    """Doc."""\n'
                      "    # why\n    if settings.twin_lever:\n        os.sync()\n\n"
                      "        return 1\n    return 0\n")
    assert code_lines(source) == 6  # import, def, if, sync, return, return
    assert code_lines(source, "twin_lever") == 3  # the if-block: if, sync, return
    shell = tmp_path / "manage.sh"
    shell.write_text('#!/bin/sh\n# the switch\nWORKER_CLASS="${WORKER_CLASS:-gthread}"\n\n'
                     "exec gunicorn\n")
    assert code_lines(shell) == 2 and code_lines(shell, "WORKER_CLASS=") == 1


def test_every_step_names_code_that_is_in_the_tree() -> None:
    for step in STEPS:
        for path, marker in step.code:
            assert (ROOT / path).exists(), path
            assert code_lines(ROOT / path, marker) > 0, (step.variant, path, marker)


def results(table: dict[str, dict[str, list[float]]]) -> list[dict[str, Any]]:
    return [{"variant": variant, "scenario": scenario, "repeat": repeat + 1,
             "headline": value, "figures": {}, "resources": {}}
            for scenario, variants in table.items() for variant, values in variants.items()
            for repeat, value in enumerate(values)]


def test_each_step_is_compared_with_the_last_step_measured_before_it() -> None:
    run = results({"phq-open": {"gthread": [800, 820, 810], "gevent-green": [1000, 1025, 1010],
                                "asgi": [1500, 1530, 1520]}})
    rows = staircase(run)["scenarios"]["phq-open"]
    assert [r["variant"] for r in rows] == ["gthread", "gevent-green", "asgi"]
    assert rows[0]["ratio_to_previous"] is None
    assert rows[2]["from"] == "gevent-green"  # gevent-tuned and asgi-hypercorn not measured
    assert 1.49 < rows[2]["ratio_to_previous"]["median"] < 1.51
    assert 1.85 < rows[2]["ratio_to_first"]["median"] < 1.9


def test_the_group_commit_grid_prices_the_lever_on_each_runtime() -> None:
    run = results({"phq-save": {"gevent-tuned": [1400, 1420], "gevent-tuned-no-group-commit":
                                [1000, 1010], "asgi": [1800, 1820],
                                "asgi-no-group-commit": [1200, 1210]}})
    grid = group_commit_grid(run)
    cell = grid["scenarios"]["phq-save"]
    assert 1.39 < cell["lever"]["gevent-tuned"]["median"] < 1.41
    assert 1.49 < cell["lever"]["asgi"]["median"] < 1.51
    assert 1.19 < cell["runtime"]["off"]["median"] < 1.21
    assert grid["lines"]["asgi"] > 0 and grid["lines"]["gevent-tuned"] > 0
    assert "db-latency" not in grid["scenarios"]  # not measured: no row
