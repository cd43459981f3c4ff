"""`assessment-bench compare A B`: two runs' headline figures side by side, change per figure
(better or worse only where the two intervals are apart), and a warning when the two runs did
not run the same software."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assessment_bench.scenarios import HEADLINES


def load(path: Path) -> dict[str, Any]:
    file = path / "results.json" if path.is_dir() else path
    document: dict[str, Any] = json.loads(file.read_text())
    return document


def installed_differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """Warnings when the two runs did not run the same software."""
    a, b = first["environment"], second["environment"]
    warnings = []
    if a.get("lock_sha256") != b.get("lock_sha256"):
        warnings.append(f"the lock files differ ({str(a.get('lock_sha256'))[:12]} vs "
                        f"{str(b.get('lock_sha256'))[:12]})")
    before, after = a.get("distributions"), b.get("distributions")
    if before is None or after is None:
        warnings.append("a run records no installed distributions (made before they were "
                        "recorded): its versions cannot be checked")
        return warnings
    for name in sorted(before.keys() | after.keys()):
        if before.get(name) != after.get(name):
            warnings.append(f"{name} {before.get(name, 'absent')} -> {after.get(name, 'absent')}")
    return warnings


def change(before: dict[str, Any] | None, after: dict[str, Any], higher: bool) -> str:
    """The change of a median, called better or worse only when the two intervals do not
    overlap (runs without intervals: when it is over 5%)."""
    if before is None:
        return "new"
    old, new = before["median"], after["median"]
    if new == old:
        return "+0.0%"
    if old == 0:  # e.g. no arrival rate met the SLO: a ratio means nothing
        return "up from 0" if new > old else "down from 0"
    percent = (new - old) / abs(old) * 100
    if "low" in before and "low" in after:
        apart = after["low"] > before["high"] or before["low"] > after["high"]
    else:
        apart = abs(percent) >= 5
    if not apart:
        return f"{percent:+.1f}%"
    return f"{percent:+.1f}% {'better' if (new > old) == higher else 'worse'}"


def compare(a: Path, b: Path) -> str:
    first, second = load(a), load(b)
    lines = [f"# {first['run']['id']} -> {second['run']['id']}", ""]
    warnings = installed_differences(first, second)
    if warnings:
        lines += ["**Warning: the runs did not run the same software, so a change below may "
                  "come from it:**", *(f"- {w}" for w in warnings), ""]
    lines += ["| scenario | variant | A | B | change |", "|---|---|---|---|---|"]
    for scenario, variants in second["summary"].items():
        higher = HEADLINES[scenario][2]
        for variant, figure in variants.items():
            earlier = first["summary"].get(scenario, {}).get(variant)
            lines.append(f"| {scenario} | {variant} | {earlier['median'] if earlier else '–'} "
                         f"| {figure['median']} | {change(earlier, figure, higher)} |")
    return "\n".join(lines) + "\n"
