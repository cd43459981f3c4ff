"""The tuning step: each variant at several database pool sizes, and gthread at several
thread counts too, on the scenarios those settings act on; then each variant's best setting,
which `run --full` uses (it reads bench/sweeps/latest.json), so that every variant runs the
headline scenarios at its best and none at a size chosen for another.

    assessment-bench sweep [--variants ...] [--repeats 2] [--out bench/sweeps/latest.json]

One bound holds for all: at most MOST_CONNECTIONS database connections per server. The best
setting is the one with the highest geometric mean, over the swept scenarios, of its median
against the default setting's (10 connections, 32 threads): a setting that doubles one
scenario and halves another is worth no more than the default.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assessment_bench.modes import MODES
from assessment_bench.runner import Bench, RunConfig, say

MOST_CONNECTIONS = 64
POOLS = (10, 32, MOST_CONNECTIONS)
THREADS = (32, 128, 256)
DEFAULT = {"DB_POOL_SIZE": "10", "THREADS": "32"}
LATEST = Path("bench/sweeps/latest.json")
# The settings each variant is swept over, and the scenarios they act on: the pool on the
# saves (most with a slow database link), gthread's threads on the chats too.
GRID: dict[str, dict[str, tuple[int, ...]]] = {
    "asgi": {"DB_POOL_SIZE": POOLS},
    "gevent-green": {"DB_POOL_SIZE": POOLS},
    "gevent-tuned": {"DB_POOL_SIZE": POOLS},
    "gthread": {"DB_POOL_SIZE": POOLS, "THREADS": THREADS},
}
SAVES = ("phq-save", "db-latency")
SCENARIOS = {"gthread": (*SAVES, "chat-stream")}


def settings_of(variant: str) -> list[dict[str, str]]:
    """Every combination of the variant's swept settings."""
    names = list(GRID[variant])
    return [dict(zip(names, (str(v) for v in values), strict=True))
            for values in itertools.product(*(GRID[variant][n] for n in names))]


def is_default(setting: dict[str, str]) -> bool:
    return all(DEFAULT[name] == value for name, value in setting.items())


def sweep(variants: list[str], repeats: int, out: Path) -> dict[str, Any]:
    mode = dataclasses.replace(
        MODES["full"], paired_rounds=0,
        tiers={v: SCENARIOS.get(v, SAVES) for v in variants})
    scenarios = sorted({s for v in variants for s in mode.tiers[v]})
    bench = Bench(RunConfig(mode=mode, variants=variants, scenarios=scenarios,
                            repeats=repeats, out=out.parent))
    grid = {v: settings_of(v) for v in variants}
    total = sum(len(grid[v]) * len(mode.tiers[v]) * repeats for v in variants)
    rows: list[dict[str, Any]] = []
    step = 0
    with bench.helpers() as (db_url, llm_url, fake_pid):
        for repeat in range(1, repeats + 1):
            for variant in variants:
                for setting in grid[variant]:
                    bench.config.overrides[variant] = setting
                    before = len(bench.record.results)
                    say(f"{variant} with {setting}")
                    step = bench.measure_variant(variant, repeat, db_url, llm_url, fake_pid,
                                                 step, total)
                    rows += [{"variant": variant, "setting": setting, "repeat": repeat,
                              "scenario": r["scenario"], "headline": r["headline"],
                              "server_cpu_percent": r["resources"]["server"]["cpu_percent"]}
                             for r in bench.record.results[before:]]
    document = {"schema": "assessment-bench-sweep/1",
                "finished_at": datetime.now(UTC).isoformat(),
                "environment": bench.record.environment,
                "most_connections": MOST_CONNECTIONS, "repeats": repeats, "rows": rows,
                "best": {v: best(rows, v) for v in variants},
                "caveats": bench.record.caveats}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    return document


def medians(rows: list[dict[str, Any]], variant: str) -> dict[str, dict[str, float]]:
    """setting (as JSON) -> scenario -> the median headline over the repeats."""
    table: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        if row["variant"] == variant:
            key = json.dumps(row["setting"], sort_keys=True)
            table.setdefault(key, {}).setdefault(row["scenario"], []).append(row["headline"])
    return {key: {scenario: statistics.median(values) for scenario, values in cell.items()}
            for key, cell in table.items()}


def best(rows: list[dict[str, Any]], variant: str) -> dict[str, Any]:
    """The setting with the highest geometric mean of its medians against the default's;
    the default itself when nothing beat it."""
    table = medians(rows, variant)
    default = next((key for key in table if is_default(json.loads(key))), None)
    if default is None:
        return {"setting": {}, "score": None}
    scores = {}
    for key, cell in table.items():
        ratios = [cell[s] / table[default][s] for s in cell
                  if s in table[default] and table[default][s] > 0 and cell[s] > 0]
        if ratios and len(ratios) == len(table[default]):
            scores[key] = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    chosen = max(scores, key=lambda k: scores[k])
    return {"setting": json.loads(chosen), "score": round(scores[chosen], 3),
            "scores": {k: round(v, 3) for k, v in scores.items()}}


# A variant that is not swept runs at the setting of the one it differs from by a lever, a
# server, a hop or a pitfall, so that a ratio between the two prices that difference, not a
# pool size.
SWEPT_AS = {
    "asgi-naive": "asgi", "asgi-hypercorn": "asgi", "asgi-granian": "asgi",
    "asgi-proxied": "asgi", "asgi-pgbouncer": "asgi", "asgi-no-group-commit": "asgi",
    "asgi-no-admission": "asgi", "gevent": "gevent-green", "gevent-phase2": "gevent-green",
    "gevent-tuned-no-group-commit": "gevent-tuned", "gevent-tuned-no-admission": "gevent-tuned",
}


def overrides(path: Path = LATEST) -> dict[str, dict[str, str]]:
    """Each variant's best setting, from a recorded sweep ({} if there is none): a swept
    variant's own, every other's that of the variant it is swept as (SWEPT_AS)."""
    if not path.is_file():
        return {}
    document = json.loads(path.read_text())
    chosen = {variant: choice["setting"] for variant, choice in document["best"].items()
              if choice.get("setting")}
    return chosen | {variant: chosen[base] for variant, base in SWEPT_AS.items()
                     if base in chosen}
