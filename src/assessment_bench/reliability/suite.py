"""`assessment-bench reliability`: every fault on every variant, and the table it makes.

One fake LLM and one PostgreSQL cluster of its own (faults stop and restart it) serve the
whole run; each fault starts and stops its own server. The results go to reliability.json and
reliability.md, and, with --docs, into the table of docs/reliability.md.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assessment_bench.reliability.result import FaultResult
from assessment_bench.reliability.server import Stack
from assessment_dev.fake_llm.launch import running_fake_llm

Fault = tuple[Callable[[Stack, str], FaultResult], str]
# Short answers (12 tokens, 2 ms apart) keep the ledger's chats quick; faults that need
# a slow or broken upstream ask for it in the message.
FAKE_LLM_FLAGS = ("--ttft", "0.01", "--tokens", "12", "--gap", "0.002", "--seed", "7")
TABLE_START = "<!-- reliability-table:start -->"
TABLE_END = "<!-- reliability-table:end -->"


def catalogue() -> dict[str, Fault]:
    """Every fault by name, in the order the table shows them."""
    from assessment_bench.reliability.abuse import ABUSE_FAULTS
    from assessment_bench.reliability.lifecycle import LIFECYCLE_FAULTS
    from assessment_bench.reliability.storage import STORAGE_FAULTS
    from assessment_bench.reliability.upstream import UPSTREAM_FAULTS

    return LIFECYCLE_FAULTS | UPSTREAM_FAULTS | STORAGE_FAULTS | ABUSE_FAULTS


@contextmanager
def reliability_stack(database_url: str | None) -> Iterator[Stack]:
    """The fake LLM and a PostgreSQL the faults may stop: a dedicated embedded cluster, or
    DATABASE_URL (then the faults that stop PostgreSQL report "not run")."""
    from assessment_bench.reliability.lifecycle import dedicated_stack

    with tempfile.TemporaryDirectory(prefix="assessment-reliability-") as folder, \
            running_fake_llm(*FAKE_LLM_FLAGS) as llm_url:
        if database_url:
            yield Stack(database_url=database_url, llm_url=llm_url, workdir=Path(folder))
        else:
            with dedicated_stack(Path(folder), llm_url) as stack:
                yield stack


def run_suite(stack: Stack, variants: list[str], faults: list[str],
              say: Callable[[str], None] = print) -> list[FaultResult]:
    known = catalogue()
    results = []
    total, step = len(variants) * len(faults), 0
    for variant in variants:
        for name in faults:
            step += 1
            function, _ = known[name]
            started = time.monotonic()
            try:
                result = function(stack, variant)
            except Exception as error:  # the check broke, not the variant: say so, go on
                result = FaultResult(name, variant, False, {},
                                     f"the check could not run: {type(error).__name__}: {error}")
            results.append(result)
            mark = "held" if result.passed else "FAILED"
            say(f"[{step}/{total}] {variant} · {name}: {mark} "
                f"({time.monotonic() - started:.0f} s){' · ' + result.note if result.note else ''}")
    return results


def document(results: list[FaultResult], variants: list[str],
             faults: list[str]) -> dict[str, Any]:
    return {"schema": "assessment-bench-reliability/1", "variants": variants, "faults": faults,
            "descriptions": {name: catalogue()[name][1] for name in faults},
            "results": [r.to_json() for r in results]}


# The figures a reader checks first, in this order; a cell shows the first three it has.
KEY_FIGURES = ("lost", "acknowledged", "seconds_to_recover", "error_events", "wrong_status",
               "upstream_sockets_leaked", "cut", "probe_seconds", "status", "seconds",
               "rss_growth_mb")


def cell(result: dict[str, Any]) -> str:
    """One table cell: held or failed, and the figures a reader checks first."""
    figures = result["figures"]
    shown = [f"{k.replace('_', ' ')} {fmt(figures[k])}" for k in KEY_FIGURES if k in figures]
    mark = "✓" if result["passed"] else "✗"
    text = f"{mark} {', '.join(shown[:3])}".strip()
    if not result["passed"] and result["note"]:
        text += f" ({result['note']})"
    return text.replace("|", "/")


def fmt(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def table(doc: dict[str, Any]) -> str:
    """Markdown: a row per fault, a column per variant."""
    by = {(r["fault"], r["variant"]): r for r in doc["results"]}
    lines = ["| fault | what must hold | " + " | ".join(doc["variants"]) + " |",
             "|---|---|" + "---|" * len(doc["variants"])]
    for fault in doc["faults"]:
        cells = [cell(by[(fault, v)]) if (fault, v) in by else "–" for v in doc["variants"]]
        lines.append(f"| {fault} | {doc['descriptions'][fault]} | " + " | ".join(cells) + " |")
    held = sum(r["passed"] for r in doc["results"])
    lines.append("")
    lines.append(f"{held} of {len(doc['results'])} checks held. ✓ held, ✗ failed; every "
                 "figure of every check is in reliability.json.")
    return "\n".join(lines)


def write(doc: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "reliability.md").write_text("# Reliability: faults and bad input per variant\n\n"
                                        + table(doc) + "\n")


def update_docs(doc: dict[str, Any], page: Path, source: str) -> None:
    """Replace the table between the markers of `page` with this run's."""
    text = page.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END)
    body = f"{TABLE_START}\nFrom `{source}`:\n\n{table(doc)}\n"
    page.write_text(text[:start] + body + text[end:])
