"""The staircase: from the Flask app before the plan to the ASGI rewrite, one step at a time,
each with what it buys (its ratio to the step before, with its interval) and what it costs to
build (the lines of code it adds, counted from the tree); and the 2x2 of runtime by group
commit, so the lever both sides can have is priced on each.

Lines are counted by `code_lines`: the lines of the statements a step's code is, without
blank lines, comments or docstrings. A step's code is whole files, or the statements of a
file whose first line names the step's setting (its `if settings.twin_group_commit:`, say).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assessment_bench import aggregate, stats
from assessment_bench.scenarios import HEADLINES

ROOT = Path(__file__).resolve().parents[2]

Code = tuple[str, str | None]  # (path from the project's root, marker or None: all of it)


@dataclass(frozen=True)
class Step:
    variant: str
    label: str
    change: str  # what this step changes, for a reader
    code: tuple[Code, ...]


TWIN_LEVERS: tuple[Code, ...] = (
    ("src/assessment_twin/services/answer_writer.py", None),
    ("src/assessment_twin/app.py", "twin_group_commit"),
    ("src/assessment_twin/app.py", "twin_lean_chat"),
    ("src/assessment_twin/routes/instruments.py", "writer"),
    ("src/assessment_twin/db.py", "autocommit"),
    ("src/assessment_twin/services/chat_turns.py", "twin_lean_chat"),
    ("src/assessment_twin/admission.py", None),
    ("src/assessment_twin/app.py", "twin_chat_admission"),
)

STEPS = (
    Step("gthread", "before", "the Flask app (all of the twin, levers included) under "
         "gunicorn -k gthread, 32 threads",
         (("src/assessment_twin", None),)),
    Step("gevent", "the plan's switch", "WORKER_CLASS=gevent in manage.sh",
         (("src/assessment_twin/manage.sh", 'WORKER_CLASS="${WORKER_CLASS'),)),
    Step("gevent-green", "what phase 1 needs", "psycopg2 patched to yield to gevent",
         (("src/assessment_twin/gunicorn_conf.py", "twin_psycogreen"),)),
    Step("gevent-tuned", "the ASGI app's levers, in Flask",
         "group commit by a writer greenlet, statements in autocommit, a chat started in "
         "two statements, chats refused while the worker lags", TWIN_LEVERS),
    Step("asgi-hypercorn", "the rewrite, on the card's server",
         "Quart, asyncpg and an async upstream client, on Hypercorn",
         (("src/assessment_async", None),)),
    Step("asgi", "Uvicorn", "SERVER=uvicorn: uvloop and httptools",
         (("src/assessment_async/serving/servers.py", "def _uvicorn"),)),
)

GROUP_COMMIT = {  # runtime -> (with group commit, without), and the lever's code
    "gevent-tuned": ("gevent-tuned", "gevent-tuned-no-group-commit",
                     (("src/assessment_twin/services/answer_writer.py", None),)),
    "asgi": ("asgi", "asgi-no-group-commit",
             (("src/assessment_async/services/answer_writer.py", None),)),
}
GRID_SCENARIOS = ("phq-save", "db-latency")


def code_lines(path: Path, marker: str | None = None) -> int:
    """Lines of code of a file (or of every file under a folder), or of the statements in
    it whose first line holds `marker` (the outermost ones)."""
    if path.is_dir():
        return sum(code_lines(p) for p in sorted(path.rglob("*.py")) + sorted(
            path.rglob("*.sh")))
    text = path.read_text()
    lines = text.splitlines()
    if path.suffix != ".py":
        chosen = [line for line in lines if line.strip() and not line.strip().startswith("#")]
        return sum(marker in line for line in chosen) if marker else len(chosen)
    tree = ast.parse(text)
    skip = docstring_lines(tree)
    if marker is None:
        spans = [(1, len(lines))]
    else:
        spans = []
        for node in ast.walk(tree):
            if isinstance(node, ast.stmt) and marker in lines[node.lineno - 1]:
                spans.append((node.lineno, node.end_lineno or node.lineno))
        spans = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1]
                                             for o in spans)]
    counted = {n for first, last in spans for n in range(first, last + 1)} - skip
    return sum(1 for n in counted
               if lines[n - 1].strip() and not lines[n - 1].strip().startswith("#"))


def docstring_lines(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            head = node.body[0] if node.body else None
            if isinstance(head, ast.Expr) and isinstance(head.value, ast.Constant) \
                    and isinstance(head.value.value, str):
                found |= set(range(head.lineno, (head.end_lineno or 0) + 1))
    return found


def lines_of(code: tuple[Code, ...], root: Path = ROOT) -> int:
    return sum(code_lines(root / path, marker) for path, marker in code)


def _estimate(values: dict[int, float]) -> dict[str, float]:
    estimate = stats.interval(list(values.values()))
    return {"median": estimate.median, "low": estimate.low, "high": estimate.high}


def _ratio(mine: dict[int, float], theirs: dict[int, float], higher: bool,
           ) -> dict[str, float] | None:
    ratio = stats.ratio(mine, theirs, higher)
    return None if ratio is None else {"median": round(ratio.median, 3),
                                       "low": round(ratio.low, 3), "high": round(ratio.high, 3)}


def staircase(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per scenario, every step this run measured: its median and interval, its ratio to the
    step measured before it (paired over the samples both ran) and to the first step; and
    each step's lines of code."""
    samples = aggregate.by_repeat(results)
    steps = [{"variant": s.variant, "label": s.label, "change": s.change,
              "lines": lines_of(s.code)} for s in STEPS]
    scenarios: dict[str, list[dict[str, Any]]] = {}
    for scenario, variants in samples.items():
        # hol's headline is a difference of p99s near zero: ratios of it mean nothing.
        if scenario in aggregate.CURVES or scenario not in HEADLINES or scenario == "hol":
            continue
        higher = HEADLINES[scenario][2]
        rows: list[dict[str, Any]] = []
        before: str | None = None
        first: str | None = None
        for step in STEPS:
            mine = variants.get(step.variant)
            if not mine:
                continue
            rows.append({"variant": step.variant, **_estimate(mine),
                         "from": before, "ratio_to_previous":
                             _ratio(mine, variants[before], higher) if before else None,
                         "ratio_to_first":
                             _ratio(mine, variants[first], higher) if first else None})
            before = step.variant
            first = first or step.variant
        if len(rows) > 1:
            scenarios[scenario] = rows
    return {"steps": steps, "scenarios": scenarios}


def group_commit_grid(results: list[dict[str, Any]]) -> dict[str, Any]:
    """phq-save and db-latency for each runtime with group commit on and off: what the lever
    buys each side (on against off), and what the runtime buys with the lever on and off."""
    samples = aggregate.by_repeat(results)
    grid: dict[str, Any] = {"lines": {runtime: lines_of(code) for runtime, (_, _, code)
                                      in GROUP_COMMIT.items()}, "scenarios": {}}
    for scenario in GRID_SCENARIOS:
        variants = samples.get(scenario, {})
        names = [v for pair in GROUP_COMMIT.values() for v in pair[:2]]
        if not all(variants.get(v) for v in names):
            continue
        cells = {v: _estimate(variants[v]) for v in names}
        (tuned_on, tuned_off, _), (asgi_on, asgi_off, _) = GROUP_COMMIT.values()
        grid["scenarios"][scenario] = {
            "cells": cells,
            "lever": {runtime: _ratio(variants[on], variants[off], True)
                      for runtime, (on, off, _) in GROUP_COMMIT.items()},
            "runtime": {"on": _ratio(variants[asgi_on], variants[tuned_on], True),
                        "off": _ratio(variants[asgi_off], variants[tuned_off], True)}}
    return grid
