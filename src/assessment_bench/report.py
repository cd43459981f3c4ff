"""Write a run's report: results.json (validated against results.schema.json), report.md,
a self-contained report.html, and the PNG plots."""

from __future__ import annotations

import base64
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
from jinja2 import Environment, PackageLoader, select_autoescape

from assessment_bench import aggregate, profiling, staircase, targets
from assessment_bench.plots import make_plots
from assessment_bench.reliability import suite
from assessment_bench.runner import Record, RunConfig
from assessment_bench.variants import VARIANTS

SCHEMA = json.loads((Path(__file__).parent / "results.schema.json").read_text())
TEMPLATES = Environment(loader=PackageLoader("assessment_bench"),
                        autoescape=select_autoescape(["html", "html.j2"]), trim_blocks=True,
                        lstrip_blocks=True, keep_trailing_newline=True)


def rerender(folder: Path) -> Path:
    """Write a run's report again from its results.json (after the report code changed),
    and each profile's figures again from its folded stacks."""
    from assessment_bench.modes import MODES

    document = json.loads((folder / "results.json").read_text())
    run = document["run"]
    config = RunConfig(mode=MODES[run["mode"]], variants=run["variants"],
                       scenarios=run["scenarios"], repeats=run["repeats"], out=folder,
                       baseline=run["baseline"], profile=tuple(run.get("profile", ())),
                       overrides=run.get("overrides", {}))
    for result in document["results"]:  # the profile code may have changed too
        if (stacks := folder / result.get("profile", {}).get("file", "-")).is_file():
            result["profile"] |= profiling.save_portable(stacks.read_text(), stacks)
    # What detect_caveats finds is found again below; the stored lines it wrote are matched
    # by what comes before their figures, so a changed wording is not kept twice.
    detected = {detected_kind(caveat) for caveat in aggregate.detect_caveats(
        document["results"], helper_cores(document["environment"]))}
    record = Record(started=run["started_at"], results=document["results"],
                    ceiling=document["ceiling"], environment=document["environment"],
                    interrupted=run["interrupted"],
                    caveats=[c for c in document["caveats"]
                             if detected_kind(c) not in detected])
    return write(config, record, finished_at=run["finished_at"],
                 settings=run.get("settings"), variant_configs=document["variant_configs"])


def build(config: RunConfig, record: Record,
          variant_configs: dict[str, Any] | None = None) -> dict[str, Any]:
    summary = aggregate.summarise(record.results)
    return {
        "schema_version": 1,
        "run": {
            "id": config.out.name,
            "mode": config.mode.name,
            "started_at": record.started,
            "finished_at": datetime.now(UTC).isoformat(),
            "variants": config.variants,
            "scenarios": config.scenarios,
            "repeats": config.repeats,
            "baseline": config.baseline,
            "profile": list(config.profile),
            "interrupted": record.interrupted,
            "settings": {k: v for k, v in vars(config.mode).items() if k != "variants"},
            "overrides": config.overrides,
        },
        "environment": record.environment,
        "variant_configs": variant_configs
        or {name: portable_config(name) for name in config.variants},
        "ceiling": record.ceiling,
        "results": record.results,
        "summary": summary,
        "loop_lag": aggregate.loop_lag(record.results),
        "costs": aggregate.costs(record.results),
        "growth": aggregate.growth(record.results),
        "overload": aggregate.overload(record.results),
        "verdict": aggregate.verdict(summary, config.baseline, config.scenarios,
                                     record.results),
        "expectations": aggregate.expectations(record.results, config.variants),
        "staircase": staircase.staircase(record.results),
        "group_commit": staircase.group_commit_grid(record.results),
        "targets": targets.check(record.results, record.ceiling)
        if targets.SUBJECT in config.variants else [],
        "caveats": record.caveats + aggregate.detect_caveats(
            record.results, helper_cores(record.environment)),
    }


def detected_kind(caveat: str) -> str:
    """A detected caveat without its per-repeat figures: its variant, scenario and kind."""
    return caveat.split(" (repeat ")[0]


def helper_cores(environment: dict[str, Any]) -> int:
    """The cores the helpers shared: every core but the server's."""
    return max(1, int(environment.get("cores") or 2) - 1)


def portable_config(name: str) -> dict[str, Any]:
    """A variant's command and environment as a reader would type them (no machine paths)."""
    root = str(Path(__file__).resolve().parents[2]) + "/"

    def clean(text: str) -> str:
        return "python" if text == sys.executable else text.replace(root, "")

    variant = VARIANTS[name]
    return {"description": variant.description,
            "command": [clean(part) for part in variant.command(8000, 1)],
            "env": {k: clean(v) for k, v in variant.environment(8000, 1).items()}}


def validate(document: dict[str, Any]) -> None:
    jsonschema.validate(document, SCHEMA)


def write(config: RunConfig, record: Record, finished_at: str | None = None,
          settings: dict[str, Any] | None = None,
          variant_configs: dict[str, Any] | None = None) -> Path:
    """Write results.json, the plots and both reports; a re-render passes the run's own
    settings and variant configurations (the variants may have changed since)."""
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    document = build(config, record, variant_configs)
    if finished_at:
        document["run"]["finished_at"] = finished_at
    if settings:
        document["run"]["settings"] = settings
    reliability = out / "reliability.json"
    if reliability.exists():  # `assessment-bench reliability --out` (or `run --full`) wrote it
        document["reliability"] = json.loads(reliability.read_text())
    validate(document)
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    plots = make_plots(out, document["summary"], record.results, document["verdict"],
                       config.baseline)
    lag_variants = [v for v in config.variants
                    if any(v in row for row in document["loop_lag"].values())]
    profiled = [r for r in record.results if r.get("profile", {}).get("layers")]
    context = {"doc": document, "plots": [p.name for p in plots], "fmt": fmt,
               "cell_text": cell_text, "cost_units": aggregate.COSTS,
               "ratio_text": ratio_text, "estimate_text": estimate_text,
               "lag_variants": lag_variants, "fault_table": suite.table,
               "fault_cell": suite.cell, "profiled": profiled,
               "profile_layers": [name for name in profiling.LAYER_NAMES
                                  if any(name in r["profile"]["layers"] for r in profiled)]}
    (out / "report.md").write_text(TEMPLATES.get_template("report.md.j2").render(**context))
    images = {p.name: base64.b64encode(p.read_bytes()).decode() for p in plots}
    (out / "report.html").write_text(TEMPLATES.get_template("report.html.j2").render(
        **context, images=images))
    return out


def cell_text(cell: dict[str, Any]) -> str:
    """A verdict cell: the median and its 95% interval, "≥" when the knee search found no
    load it failed, the ratio to the baseline and its interval, and any errors."""
    text = ("≥ " if cell.get("censored") else "") + fmt(cell["median"])
    if cell.get("repeats", 1) > 1:
        text += f" [{fmt(cell['low'])}–{fmt(cell['high'])}]"
    ratio = cell.get("ratio_to_baseline")
    if ratio:
        text += f" ×{ratio['median']:.2f}"
        itself = ratio["low"] == ratio["median"] == ratio["high"] == 1  # the baseline's own
        if cell.get("repeats", 1) > 1 and not itself:
            text += f" [{ratio['low']:.2f}–{ratio['high']:.2f}]"
    if cell.get("errors"):
        text += f" ⚠ {cell['errors']} errors"
    return text


def ratio_text(ratio: dict[str, float] | None) -> str:
    """×median [low–high], or – when there is no pair to take it from."""
    if not ratio:
        return "–"
    if ratio["low"] == ratio["high"]:
        return f"×{ratio['median']:.2f}"
    return f"×{ratio['median']:.2f} [{ratio['low']:.2f}–{ratio['high']:.2f}]"


def estimate_text(cell: dict[str, float]) -> str:
    if cell["low"] == cell["high"]:
        return fmt(cell["median"])
    return f"{fmt(cell['median'])} [{fmt(cell['low'])}–{fmt(cell['high'])}]"


def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)
