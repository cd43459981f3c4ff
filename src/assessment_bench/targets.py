"""The performance targets the `asgi` variant is held to, checked against a run's results.

Each target compares medians over the run's repeats, as ratios within the run where it names
another variant (the machine's speed cancels out). A target whose figures the run did not
measure (a variant or scenario left out) is reported as not measured, never as met.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from assessment_bench.aggregate import error_count, first

SUBJECT = "asgi"
Pick = Callable[[dict[str, Any]], float | None]


def _median(results: list[dict[str, Any]], variant: str, scenario: str,
            pick: Pick) -> float | None:
    found = [pick(r) for r in first(results, variant, scenario)]
    values = [f for f in found if f is not None]
    return statistics.median(values) if values else None


def _headline(r: dict[str, Any]) -> float | None:
    return float(r["headline"])


def _saturation(key: str) -> Pick:
    def pick(r: dict[str, Any]) -> float | None:
        step = r["figures"].get("saturation")
        return float(step[key]) if step and key in step else None
    return pick


def _row(target: str, measured: str | None, met: bool | None) -> dict[str, Any]:
    return {"target": target, "measured": measured or "not measured",
            "met": None if measured is None else met}


def _ratio_row(target: str, mine: float | None, theirs: float | None,
               unit: str = "") -> dict[str, Any]:
    """A target of `mine` at least 1.5 times `theirs`."""
    ratio = mine / theirs if mine and theirs else None
    return _row(target, f"{mine:,.0f} vs {theirs:,.0f}{unit}: ×{ratio:.2f}" if ratio else None,
                ratio is not None and ratio >= 1.5)


def check(results: list[dict[str, Any]], ceiling: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target: what it asks, what the run measured, and whether it was met."""
    def med(variant: str, scenario: str, pick: Pick = _headline) -> float | None:
        return _median(results, variant, scenario, pick)

    rows = []
    save = med(SUBJECT, "phq-save")
    for other in ("gevent-green", "gthread"):
        rows.append(_ratio_row(f"phq-save: {SUBJECT} ≥ 1.5× {other}", save,
                               med(other, "phq-save"), " saves/s"))
    raw = statistics.median(c["saves_per_s"] for c in ceiling) if ceiling else None
    share = save / raw if save and raw else None
    rows.append(_row("phq-save: ≥ 50% of the raw driver ceiling",
                     f"{save:,.0f} of {raw:,.0f} saves/s: {share:.0%}" if share else None,
                     share is not None and share >= 0.5))

    hol, hol_base = med(SUBJECT, "hol"), med("gevent-green", "hol")
    rows.append(_row("hol: what chats add to a save's p99 ≤ half of what they add on "
                     "gevent-green", f"{hol:,.1f} vs {hol_base:,.1f} ms"
                     if hol is not None and hol_base is not None else None,
                     bool(hol is not None and hol_base is not None and hol <= hol_base / 2)))
    rows.append(_row("hol: chats add < 50 ms to a save's p99",
                     f"{hol:,.1f} ms" if hol is not None else None,
                     hol is not None and hol < 50))

    of_ideal = med(SUBJECT, "chat-stream", lambda r: r["figures"].get("of_ideal"))
    rows.append(_row("chat-stream: ≥ 95% of the ideal chats/s at 200 streams",
                     f"{of_ideal:.0%}" if of_ideal is not None else None,
                     of_ideal is not None and of_ideal >= 0.95))
    saturated = [r for r in results if r["variant"] == SUBJECT
                 and r["scenario"] == "chat-stream" and r["figures"].get("saturation")]
    if saturated:
        streams = saturated[0]["figures"]["saturation"]["streams"]
        errors = sum(error_count(r["figures"]["saturation"]) for r in saturated)
        rows.append(_row(f"chat-stream: {streams:,} concurrent streams, no errors",
                         f"{errors:,} errors over {len(saturated)} repeat(s)", errors == 0))
    else:
        rows.append(_row("chat-stream: 2,000 concurrent streams, no errors", None, None))
    rows.append(_ratio_row("chat-stream: relayed tokens/s at saturation ≥ 1.5× gevent-green",
                           med(SUBJECT, "chat-stream", _saturation("tokens_per_s")),
                           med("gevent-green", "chat-stream", _saturation("tokens_per_s"))))

    mb, mb_base = med(SUBJECT, "camera-upload"), med("gevent-green", "camera-upload")
    rows.append(_row("camera-upload: MB/s ≥ gevent-green's",
                     f"{mb:,.0f} vs {mb_base:,.0f} MB/s" if mb and mb_base else None,
                     bool(mb and mb_base and mb >= mb_base)))
    growth = med(SUBJECT, "camera-upload",
                 lambda r: r["resources"].get("server", {}).get("rss_growth_mb"))
    rows.append(_row("camera-upload: server RSS growth ≤ 64 MB",
                     f"{growth:,.1f} MB" if growth is not None else None,
                     growth is not None and growth <= 64))
    lag = med(SUBJECT, "camera-upload",
              lambda r: (r.get("loop_lag") or {}).get("p99_ms"))
    rows.append(_row("camera-upload: event-loop lag p99 < 20 ms",
                     f"{lag:,.1f} ms" if lag is not None else None,
                     lag is not None and lag < 20))

    rows.append(_ratio_row("assessment-flow: flows/min within SLOs ≥ 1.5× gevent-green",
                           med(SUBJECT, "assessment-flow"),
                           med("gevent-green", "assessment-flow")))
    rows.extend(overload_rows(results))
    return rows


OVERLOAD_P99 = "overload: save p99 ≤ 50 ms at every load up to 2× capacity"
OVERLOAD_HALF = "overload: save p99 ≤ half of gevent-green's at every load up to 2× capacity"
OVERLOAD_GOODPUT = "overload: goodput past capacity ≥ 90% of its peak"
OVERLOAD_REFUSALS = "overload: every refused chat answered within 50 ms"


def _overload_steps(results: list[dict[str, Any]], variant: str) -> list[dict[str, Any]]:
    found = first(results, variant, "overload")  # a curve, drawn in one repeat
    return list(found[0]["figures"]["steps"]) if found else []


def overload_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answers never wait for chats: at every offered chat load up to twice the capacity,
    the save probe's p99 within 50 ms and at most half of gevent-green's; past the capacity,
    chat goodput no lower than 90% of its peak; every refused chat answered within 50 ms."""
    mine = [s for s in _overload_steps(results, SUBJECT) if s["factor"] <= 2]
    theirs = {s["factor"]: s for s in _overload_steps(results, "gevent-green")}
    if not mine:
        return [_row(target, None, None) for target in (
            OVERLOAD_P99, OVERLOAD_HALF, OVERLOAD_GOODPUT, OVERLOAD_REFUSALS)]
    worst = max(s["probe"]["p99_ms"] for s in mine)
    rows = [_row(OVERLOAD_P99, f"worst {worst:,.1f} ms", worst <= 50)]
    pairs = [(s["probe"]["p99_ms"], theirs[s["factor"]]["probe"]["p99_ms"]) for s in mine
             if s["factor"] in theirs]
    rows.append(_row(OVERLOAD_HALF, "; ".join(f"{a:,.0f} vs {b:,.0f} ms" for a, b in pairs)
                     if pairs else None, bool(pairs) and all(a <= b / 2 for a, b in pairs)))
    # No collapse: at every load above the one with the most chats completed, still 90% of
    # that peak (a server that queues past its capacity completes fewer, later, chats).
    goodput = [float(s["chats"].get("goodput_per_s", 0)) for s in mine]
    peak = max(goodput)
    past = goodput[goodput.index(peak):]
    floor = min(past) / peak if peak else None
    rows.append(_row(OVERLOAD_GOODPUT,
                     f"{min(past):,.0f} of a peak {peak:,.0f} chats/s: {floor:.0%}"
                     if floor is not None else None, floor is not None and floor >= 0.9))
    refused = [float(s["chats"].get("refused_max_ms", 0)) for s in mine
               if s["chats"].get("refused")]
    rows.append(_row(OVERLOAD_REFUSALS,
                     f"slowest {max(refused):,.0f} ms" if refused else "none refused",
                     not refused or max(refused) <= 50))
    return rows
