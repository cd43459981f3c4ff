"""The scenarios of shared/design.md, each measured against one running variant.

Each returns (figures, headline): the figures go to results.json as measured; the headline
is the one number the verdict table compares (its unit and direction are in HEADLINES).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assessment_bench.load.wrk import run_wrk
from assessment_bench.modes import CHAT_SECONDS, FLOW_MAX_ERROR_RATE, FLOW_SLO_P99_MS, Mode

Figures = dict[str, Any]
# A slow stream: about 11 s, longer than the probe's window (3 s + the probe), so the probe
# runs beside 200 open streams, not beside 200 identical turns ending and restarting at once.
HOL_MESSAGE = "Tell me more {{fake-llm: ttft=1,tokens=200,gap=0.05}}"

# scenario -> (headline key, unit, higher is better)
HEADLINES = {
    "phq-save": ("saves_per_s", "saves/s", True),
    "phq-open": ("max_rate_within_slo", "req/s within p99 SLO", True),
    "chat-stream": ("chats_per_s", "chats/s", True),
    "hol": ("probe_p99_ms", "ms PHQ save p99 beside slow chats", False),
    "camera-upload": ("mb_per_s", "MB/s", True),
    "assessment-flow": ("max_flows_per_min_within_slo", "flows/min within SLOs", True),
    "db-latency": ("saves_per_s", "saves/s with a slow database link", True),
}


@dataclass
class Target:
    """One running variant, and what its scenarios need."""

    base: str
    mode: Mode
    sessions_file: Path
    loadgen_prefix: tuple[str, ...]

    def sessions(self) -> list[dict[str, str]]:
        loaded: list[dict[str, str]] = json.loads(self.sessions_file.read_text())
        return loaded


def load_process(module: str, *args: str, prefix: tuple[str, ...]) -> Figures:
    """Run one of the load generators as its own (pinned) process; its JSON answer."""
    result = subprocess.run([*prefix, sys.executable, "-m", f"assessment_bench.load.{module}",
                             *args], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{module} failed: {result.stderr[-1500:]}")
    figures: Figures = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def phq_save(t: Target) -> tuple[Figures, float]:
    figures = run_wrk(t.base, t.sessions(), t.mode.seconds, t.mode.connections,
                      prefix=t.loadgen_prefix)
    return figures, float(figures["saves_per_s"])


def open_loop(t: Target, rate: float, seconds: float) -> Figures:
    return load_process("openloop", t.base, "--rate", str(rate), "--seconds", str(seconds),
                        "--sessions", str(t.sessions_file), prefix=t.loadgen_prefix)


def phq_open(t: Target) -> tuple[Figures, float]:
    steps = []
    best = 0.0
    for rate in t.mode.open_rates:
        step = open_loop(t, rate, t.mode.seconds)
        failed = sum(step["errors"].values())
        step["within_slo"] = (step["achieved_rate"] >= 0.95 * rate
                              and step["p99_ms"] <= t.mode.open_slo_p99_ms
                              and failed <= 0.01 * step["requests"])
        steps.append(step)
        if step["within_slo"]:
            best = rate
        elif step["p99_ms"] > 10 * t.mode.open_slo_p99_ms:
            break  # saturated well past the SLO: higher rates only queue more
    return {"steps": steps, "slo_p99_ms": t.mode.open_slo_p99_ms,
            "max_rate_within_slo": best}, best


def chat_stream(t: Target) -> tuple[Figures, float]:
    """Chats at `chat_streams` streams against the ideal; then, if the mode says so, as many
    streams as `chat_saturation_streams` at once: errors and relayed tokens/s at saturation."""
    figures = chats(t, t.mode.chat_streams, max(t.mode.seconds, 3))
    ideal = t.mode.chat_streams / CHAT_SECONDS
    figures |= {"ideal_chats_per_s": round(ideal, 1),
                "of_ideal": round(figures["chats_per_s"] / ideal, 3)}
    if t.mode.chat_saturation_streams:
        figures["saturation"] = chats(t, t.mode.chat_saturation_streams,
                                      max(t.mode.seconds, 5), warmup=5)
    return figures, float(figures["chats_per_s"])


def chats(t: Target, streams: int, seconds: float, warmup: float = 2) -> Figures:
    return load_process("chats", t.base, "--streams", str(streams), "--seconds", str(seconds),
                        "--warmup", str(warmup), prefix=t.loadgen_prefix)


def hol(t: Target) -> tuple[Figures, float]:
    """The PHQ save probe alone, then beside slow chat streams."""
    probe_seconds = max(t.mode.seconds, 3)
    alone = open_loop(t, t.mode.hol_probe_rate, probe_seconds)
    chats = subprocess.Popen(
        [*t.loadgen_prefix, sys.executable, "-m", "assessment_bench.load.chats", t.base,
         "--streams", str(t.mode.hol_streams), "--seconds", str(probe_seconds + 4),
         "--warmup", "0", "--message", HOL_MESSAGE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)  # every stream open and waiting on its slow upstream
    beside = open_loop(t, t.mode.hol_probe_rate, probe_seconds)
    out, err = chats.communicate(timeout=900)
    streams = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err[-500:]}
    return {"probe_alone": alone, "probe_beside_chats": beside, "chats": streams,
            "probe_p99_ms": beside["p99_ms"]}, float(beside["p99_ms"])


def camera_upload(t: Target) -> tuple[Figures, float]:
    figures = load_process("uploads", t.base, "--uploads", str(t.mode.uploads),
                           "--mb", str(t.mode.upload_mb), "--rounds", str(t.mode.upload_rounds),
                           prefix=t.loadgen_prefix)
    return figures, float(figures["mb_per_s"])


def assessment_flow(t: Target) -> tuple[Figures, float]:
    steps = []
    best = 0.0
    locustfile = Path(__file__).parent / "load" / "locustfile.py"
    for users in t.mode.flow_users:
        with tempfile.TemporaryDirectory() as folder:
            prefix = str(Path(folder) / "flow")
            subprocess.run(
                [*t.loadgen_prefix, sys.executable, "-m", "locust", "-f", str(locustfile),
                 "--headless", "-u", str(users), "-r", str(users), "--run-time",
                 f"{int(t.mode.flow_seconds)}s", "--host", t.base, "--csv", prefix,
                 "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "10"],
                capture_output=True, text=True, timeout=t.mode.flow_seconds + 120)
            step = flow_step(Path(f"{prefix}_stats.csv"), users, t.mode.flow_seconds)
        steps.append(step)
        if not step["within_slo"]:
            break  # more participants only queue more
        best = max(best, step["flows_per_min"])
    return {"steps": steps, "slo_p99_ms": FLOW_SLO_P99_MS,
            "max_flows_per_min_within_slo": best}, best


def flow_step(stats_csv: Path, users: int, seconds: float) -> Figures:
    rows = {row["Name"]: row for row in csv.DictReader(stats_csv.open())}
    kinds = {}
    requests = failures = 0
    for name, row in rows.items():
        if name == "Aggregated":
            continue
        count, failed = int(row["Request Count"]), int(row["Failure Count"])
        if name != "flow":
            requests += count
            failures += failed
        kinds[name] = {"count": count, "failures": failed,
                       "p50_ms": float(row["50%"] or 0), "p99_ms": float(row["99%"] or 0)}
    flows = kinds.get("flow", {}).get("count", 0)
    slo_ok = all(kinds.get(name, {"p99_ms": 0.0})["p99_ms"] <= limit
                 for name, limit in FLOW_SLO_P99_MS.items())
    error_rate = failures / requests if requests else 1.0
    return {"users": users, "flows_per_min": round(60 * flows / seconds, 1),
            "error_rate": round(error_rate, 4), "requests": kinds,
            "within_slo": bool(slo_ok and flows and error_rate <= FLOW_MAX_ERROR_RATE)}


RUNNERS: dict[str, Callable[[Target], tuple[Figures, float]]] = {
    "phq-save": phq_save,
    "phq-open": phq_open,
    "chat-stream": chat_stream,
    "hol": hol,
    "camera-upload": camera_upload,
    "assessment-flow": assessment_flow,
    "db-latency": phq_save,  # the same saturation, against a server whose database is slow
}
