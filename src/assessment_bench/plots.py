"""The report's PNG plots (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _bars(path: Path, title: str, ylabel: str, values: dict[str, dict[str, float]]) -> Path:
    names = list(values)
    medians = [values[n]["median"] for n in names]
    low = [values[n]["median"] - values[n]["low"] for n in names]
    high = [values[n]["high"] - values[n]["median"] for n in names]
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.bar(names, medians, yerr=[low, high], capsize=4, color="#4C72B0")
    axis.set_title(title)
    axis.set_ylabel(ylabel)
    axis.tick_params(axis="x", rotation=30)
    return _save(figure, path)


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _paired_bars(path: Path, title: str, ylabel: str, names: list[str],
                 pairs: tuple[tuple[str, list[float]], tuple[str, list[float]]],
                 log: bool = False) -> Path:
    """Two bars per variant side by side (say p50 and p99)."""
    figure, axis = plt.subplots(figsize=(8, 4))
    xs = range(len(names))
    for offset, (label, values) in zip((-0.2, 0.2), pairs, strict=True):
        axis.bar([x + offset for x in xs], values, width=0.4, label=label)
    axis.set_xticks(list(xs), names, rotation=30)
    if log:
        axis.set_yscale("log")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=8)
    return _save(figure, path)


def _by_variant(results: list[dict[str, Any]], scenario: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for result in sorted(results, key=lambda r: r["repeat"]):
        if result["scenario"] == scenario and not result.get("profiled"):
            out.setdefault(result["variant"], []).append(result["figures"])
    return out


def make_plots(out: Path, summary: dict[str, Any], results: list[dict[str, Any]],
               verdict: list[dict[str, Any]] | None = None,
               baseline: str | None = None) -> list[Path]:
    made = []
    if verdict and baseline and any(cell.get("ratio_to_baseline") for row in verdict
                                    for variant, cell in row["values"].items()
                                    if variant != baseline):
        made.append(_ratios(out / "ratios.png", verdict, baseline))
    if "phq-save" in summary:
        made.append(_bars(out / "throughput.png", "phq-save: one-answer saves per second "
                          "(median, 95% interval)", "saves/s", summary["phq-save"]))
    if "chat-stream" in summary:
        made.append(_bars(out / "chats.png", "chat-stream: completed chats per second "
                          "(median, 95% interval)", "chats/s", summary["chat-stream"]))
    open_loop = _by_variant(results, "phq-open")
    if open_loop:
        figure, axis = plt.subplots(figsize=(8, 4))
        for variant, runs in open_loop.items():
            steps = runs[0]["steps"]
            line = axis.plot([s["load"] for s in steps], [s["p99_ms"] for s in steps],
                             marker="o", label=variant)[0]
            failed = [s for s in steps if not s["passed"]]
            axis.scatter([s["load"] for s in failed], [s["p99_ms"] for s in failed],
                         marker="x", s=60, color=line.get_color(), zorder=3)
        axis.axhline(runs[0]["slo_p99_ms"], color="grey", linestyle=":", linewidth=1)
        axis.set_yscale("log")
        axis.set_xlabel("offered load, saves/s (open loop, the participants' schedule)")
        axis.set_ylabel("p99 latency, ms (log)")
        axis.set_title("phq-open: latency against load up to and past each knee "
                       "(first repeat; × failed the SLO)")
        axis.legend(fontsize=8)
        made.append(_save(figure, out / "latency_vs_load.png"))
    hol = _by_variant(results, "hol")
    if hol:
        made.append(_hol(out / "hol.png", hol))
    chats = _by_variant(results, "chat-stream")
    if chats:
        names = list(chats)
        made.append(_paired_bars(
            out / "ttft.png", "chat-stream: time to first token (first repeat)",
            "time to first token at the client, ms", names,
            (("p50", [chats[n][0]["ttft_p50_ms"] for n in names]),
             ("p99", [chats[n][0]["ttft_p99_ms"] for n in names]))))
    uploads = [r for r in results if r["scenario"] == "camera-upload"]
    if uploads:
        names = sorted({r["variant"] for r in uploads}, key=[r["variant"] for r in uploads].index)
        first = {n: next(r for r in uploads if r["variant"] == n) for n in names}
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.bar(names, [first[n]["figures"]["mb_per_s"] for n in names], color="#55A868")
        left.set_title("upload MB/s")
        right.bar(names, [first[n]["resources"]["server"]["rss_growth_mb"] for n in names],
                  color="#C44E52")
        right.set_title("server RSS growth during uploads, MB")
        for axis in (left, right):
            axis.tick_params(axis="x", rotation=30)
        made.append(_save(figure, out / "uploads.png"))
    growing = _by_variant(results, "growth")
    if growing:
        made.append(_growth(out / "growth.png", growing))
    overloaded = _by_variant(results, "overload")
    if overloaded:
        made.append(_overload(out / "overload.png", overloaded))
    profiled = [r for r in results if r.get("profile", {}).get("layers")]
    if profiled:
        made.append(_layers(out / "profile.png", profiled))
    return made


def _hol(path: Path, hol: dict[str, list[dict[str, Any]]]) -> Path:
    """The probe's p99 and p99.9 alone, beside chats that start and end all the time, and
    beside each number of streams held open (first repeat)."""
    names = list(hol)
    first = {n: hol[n][0] for n in names}
    columns = [("alone", lambda f: f["probe_alone"])]
    if all("beside_churn" in first[n] for n in names):
        rate = first[names[0]]["beside_churn"]["offered_chats_per_s"]
        columns.append((f"beside {rate:,.0f} chats/s arriving",
                        lambda f: f["beside_churn"]["probe"]))
    for key in ("beside", "beside_saturation"):
        if all(key in first[n] for n in names):
            streams = first[names[0]][key]["streams"]
            columns.append((f"beside {streams:,} streams",
                            lambda f, key=key: f[key]["probe"]))  # type: ignore[misc]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, percentile in zip(axes, ("p99_ms", "p999_ms"), strict=True):
        width = 0.8 / len(columns)
        for index, (label, pick) in enumerate(columns):
            axis.bar([x + index * width for x in range(len(names))],
                     [pick(first[n]).get(percentile, 0.0) for n in names], width=width,
                     label=label)
        axis.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names, rotation=30)
        axis.set_yscale("log")
        axis.set_title(f"save {percentile.removesuffix('_ms').replace('p999', 'p99.9')}")
    axes[0].set_ylabel("ms (log)")
    axes[1].legend(fontsize=8)
    figure.suptitle("hol: does a slow chat hold up other participants' saves? (first repeat)")
    return _save(figure, path)


def _ratios(path: Path, verdict: list[dict[str, Any]], baseline: str) -> Path:
    """The report's lead picture: each variant's ratio to the baseline, per scenario, with
    its 95% interval, on a log scale where 1 is the plan as written."""
    rows = [(row["scenario"], variant, cell["ratio_to_baseline"])
            for row in verdict for variant, cell in row["values"].items()
            if variant != baseline and cell.get("ratio_to_baseline")]
    figure, axis = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.6))
    colours = plt.get_cmap("tab10")
    variants = sorted({variant for _, variant, _ in rows}, key=[v for _, v, _ in rows].index)
    for y, (_, variant, ratio) in enumerate(rows):
        colour = colours(variants.index(variant) % 10)
        axis.errorbar(ratio["median"], y, xerr=[[ratio["median"] - ratio["low"]],
                                                 [ratio["high"] - ratio["median"]]],
                      fmt="o", color=colour, capsize=3, markersize=4)
    axis.set_yticks(range(len(rows)), [f"{s} · {v}" for s, v, _ in rows], fontsize=7)
    axis.invert_yaxis()
    axis.axvline(1.0, color="grey", linewidth=1)
    axis.set_xscale("log")
    axis.set_xlabel(f"ratio to {baseline} (above 1 is better; log scale), median and 95% interval")
    axis.set_title(f"Each variant against the plan as written ({baseline})")
    return _save(figure, path)


def _growth(path: Path, growing: dict[str, list[dict[str, Any]]]) -> Path:
    """Saves/s and p99 as connections grow, and the memory each held connection costs
    (first repeat)."""
    figure, (rate, tail, memory) = plt.subplots(1, 3, figsize=(14, 4))
    names = list(growing)
    for variant in names:
        curve = growing[variant][0]["curve"]
        connections = [step["connections"] for step in curve]
        rate.plot(connections, [step["saves_per_s"] for step in curve], marker="o",
                  label=variant)
        tail.plot(connections, [step["p99_ms"] for step in curve], marker="o", label=variant)
    for axis, label in ((rate, "saves/s"), (tail, "save p99, ms (log)")):
        axis.set_xscale("log")
        axis.set_xlabel("connections (wrk, the participants' schedule)")
        axis.set_ylabel(label)
    tail.set_yscale("log")
    rate.legend(fontsize=7)
    held = [(m["kind"], m["asked"]) for m in growing[names[0]][0]["memory"]]
    width = 0.8 / len(held)
    for index, (kind, count) in enumerate(held):
        values = [next((m["kib_each"] or 0.0 for m in growing[n][0]["memory"]
                        if (m["kind"], m["asked"]) == (kind, count)), 0.0) for n in names]
        memory.bar([x + index * width for x in range(len(names))], values, width=width,
                   label=f"{count:,} {'idle connections' if kind == 'idle' else 'streams'}")
    memory.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names, rotation=30)
    memory.set_ylabel("server memory each, KiB")
    memory.legend(fontsize=7)
    figure.suptitle("growth: how each side's cost grows with its work (first repeat)")
    return _save(figure, path)


def _layers(path: Path, profiled: list[dict[str, Any]]) -> Path:
    """One bar per profiled scenario and variant, split by the layer of code that ran."""
    from assessment_bench.profiling import LAYER_NAMES

    labels = [f"{r['scenario']} · {r['variant']}" for r in profiled]
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(profiled) + 1.8))
    left = [0.0] * len(profiled)
    colours = plt.get_cmap("tab10")
    for index, layer in enumerate(LAYER_NAMES):
        shares = [r["profile"]["layers"].get(layer, 0.0) for r in profiled]
        if any(shares):
            axis.barh(labels, shares, left=left, label=layer, color=colours(index % 10))
            left = [a + b for a, b in zip(left, shares, strict=True)]
    axis.invert_yaxis()  # in the run's order, top to bottom
    axis.set_xlim(0, 101)  # shares are rounded
    axis.set_xlabel("% of the server's working samples (py-spy, first repeat)")
    axis.set_title("Where the server's time goes, by layer of code")
    axis.legend(fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return _save(figure, path)


def _overload(path: Path, runs: dict[str, list[dict[str, Any]]]) -> Path:
    """Save p99 and chat goodput against the chats offered (first repeat, per variant)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for variant, figures in runs.items():
        steps = figures[0]["steps"]
        offered = [s["offered_chats_per_s"] for s in steps]
        left.plot(offered, [s["probe"]["p99_ms"] for s in steps], marker="o", label=variant)
        right.plot(offered, [s["chats"].get("goodput_per_s", 0.0) for s in steps], marker="o",
                   label=variant)
    left.set_yscale("log")
    left.set_title("save p99 beside the chats, ms (log)")
    right.set_title("chats completed per second (goodput)")
    for axis in (left, right):
        axis.set_xlabel("chats offered per second (sessions and chats back to back)")
    right.legend(fontsize=8)
    return _save(figure, path)
