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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assessment_bench.knee import confirm, find_knee
from assessment_bench.load.churn import TOKENS as CHURN_TOKENS
from assessment_bench.load.wrk import run_wrk
from assessment_bench.modes import CHAT_SECONDS, FLOW_MAX_ERROR_RATE, FLOW_SLO_P99_MS, Mode
from assessment_bench.workload import Workload

Figures = dict[str, Any]
def hol_message(seconds: float) -> str:
    """A slow stream, longer than the probe's window plus the time to open every stream, so
    the probe runs beside open streams, not beside identical turns ending and restarting."""
    tokens = int((seconds + 10) / 0.05)
    return f"Tell me more {{{{fake-llm: ttft=1,tokens={tokens},gap=0.05}}}}"


# scenario -> (headline key, unit, higher is better)
HEADLINES = {
    "phq-save": ("saves_per_s", "saves/s", True),
    "phq-open": ("knee_rate", "saves/s offered within the p99 SLO (knee)", True),
    "chat-stream": ("chats_per_s", "chats/s", True),
    "hol": ("added_p99_ms", "ms a save's p99 gains beside chats starting and ending at half "
            "the chat capacity", False),
    "camera-upload": ("mb_per_s", "MB/s", True),
    "assessment-flow": ("knee_flows_per_min", "flows/min within SLOs (knee)", True),
    "db-latency": ("saves_per_s", "saves/s with a slow database link", True),
    "growth": ("saves_per_s", "saves/s at the most connections tried", True),
    "overload": ("save_p99_ms_up_to_2x", "ms, a save's p99 beside chats offered up to twice "
                 "the worker's capacity", False),
}


# What a schedule is sized for: more requests per second than any variant here serves (the
# raw driver ceiling is about 8,000 on this machine), so a closed-loop run never runs out.
MOST_SAVES_PER_S = 10_000
# An open-loop step whose requests left later than this (p99, against the schedule) measured
# the generator as much as the server: it cannot pass. Latency counts from the intended send
# time, so a late generator can only make a server look slower; a tenth of the SLO keeps that
# error small beside what the SLO allows.
GENERATOR_LATE_SHARE_OF_SLO = 0.1
OVERLOAD_LEAD = 2.0  # seconds of churn before the save probe starts
HOL_CHURN = 0.5  # hol's background: chats arriving at half the chat capacity
RUN_WIDE = "(run)"  # the key of Target.run_hints that no variant has: what the run fixed


@dataclass
class Target:
    """One running variant, and what its scenarios need."""

    base: str
    mode: Mode
    workload: Workload
    loadgen_prefix: tuple[str, ...]
    metrics: str = ""  # the base URL of its /metrics (its own port); "": none
    server_cpu: Callable[[], float] = lambda: 0.0  # CPU seconds its processes used so far
    server_rss: Callable[[], float] = lambda: 0.0  # MB its processes hold now
    # What earlier scenarios and repeats of this variant found, to start a search near its
    # answer: "saves_per_s" (closed loop), and each knee by scenario.
    hints: dict[str, float] = field(default_factory=dict)
    repeat: int = 1  # which repeat this is (hol's saturation step is drawn once, in the first)
    run_hints: dict[str, dict[str, float]] = field(default_factory=dict)  # every variant's

    def search_start(self, scenario: str, first: float, closed_loop: float | None = None,
                     ) -> tuple[float, float]:
        """Where a knee search starts and how fast it climbs: just under the knee an earlier
        repeat found, climbing by a quarter; else at half the closed-loop throughput (an
        open loop cannot carry more than that), or `first`, doubling."""
        if scenario in self.hints:
            return max(first / 4, 0.9 * self.hints[scenario]), 1.25
        if closed_loop:
            return max(first, closed_loop / 2), 2.0
        return first, 2.0

    def costed(self, run: Callable[[], Figures], unit: str, count: Callable[[Figures], float],
               ) -> Figures:
        """Run one load, and add what it cost the server: CPU ms per `unit`, and the share
        of one core it kept busy."""
        started, cpu_before = time.monotonic(), self.server_cpu()
        figures = run()
        seconds, cpu = time.monotonic() - started, self.server_cpu() - cpu_before
        done = count(figures)
        figures[f"cpu_ms_per_{unit}"] = round(1000 * cpu / done, 3) if done else None
        figures["server_cores_busy"] = round(cpu / seconds, 3) if seconds else None
        return figures


def load_process(module: str, *args: str, prefix: tuple[str, ...]) -> Figures:
    """Run one of the load generators as its own (pinned) process; its JSON answer."""
    result = subprocess.run([*prefix, sys.executable, "-m", f"assessment_bench.load.{module}",
                             *args], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"{module} failed: {result.stderr[-1500:]}")
    figures: Figures = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def phq_save(t: Target) -> tuple[Figures, float]:
    schedule, length = t.workload.schedule(MOST_SAVES_PER_S * t.mode.seconds)
    figures = t.costed(lambda: run_wrk(t.base, schedule, length, t.mode.seconds,
                                       t.mode.connections, prefix=t.loadgen_prefix),
                       "request", lambda f: f["requests"] - f["errors"].get("status", 0))
    t.hints.setdefault("saves_per_s", float(figures["saves_per_s"]))
    return figures, float(figures["saves_per_s"])


def open_loop(t: Target, rate: float, seconds: float) -> Figures:
    schedule, _ = t.workload.schedule(rate * seconds)
    return load_process("openloop", t.base, "--rate", str(rate), "--seconds", str(seconds),
                        "--schedule", str(schedule), prefix=t.loadgen_prefix)


def within_open_slo(step: Figures, slo_p99_ms: float) -> bool:
    """Every request answered (1% may fail), at the rate offered, with p99 within the SLO,
    sent on time by the generator."""
    failed = sum(step["errors"].values())
    step["generator_late"] = step["send_lateness_p99_ms"] > GENERATOR_LATE_SHARE_OF_SLO * slo_p99_ms
    return bool(step["achieved_rate"] >= 0.95 * step["target_rate"]
                and step["p99_ms"] <= slo_p99_ms and failed <= 0.01 * step["requests"]
                and not step["generator_late"])


def phq_open(t: Target) -> tuple[Figures, float]:
    """The knee: the highest offered rate of saves (with the participants' submits) whose
    p99 meets the SLO, to within the mode's precision."""
    mode = t.mode
    start, factor = t.search_start("phq-open", mode.open_start, t.hints.get("saves_per_s"))
    search = find_knee(lambda rate: open_loop(t, rate, mode.open_seconds),
                       lambda step: within_open_slo(step, mode.open_slo_p99_ms),
                       start, mode.open_limit, mode.knee_precision, factor=factor)
    if mode.open_confirm_seconds:
        confirm(search, lambda rate: open_loop(t, rate, mode.open_confirm_seconds),
                lambda step: within_open_slo(step, mode.open_slo_p99_ms))
    if search.knee:
        t.hints.setdefault("phq-open", search.knee)
    return search.as_figures() | {"slo_p99_ms": mode.open_slo_p99_ms,
                                  "knee_rate": search.knee}, search.knee


def chat_stream(t: Target) -> tuple[Figures, float]:
    """Chats at `chat_streams` streams against the ideal; then, if the mode says so, as many
    streams as `chat_saturation_streams` at once: errors and relayed tokens/s at saturation."""
    figures = t.costed(lambda: chats(t, t.mode.chat_streams, max(t.mode.seconds, 3)), "chat",
                       lambda f: f["chats"] + f.get("warmup_chats", 0))
    if t.repeat:  # overload's capacity, from a repeat that was not slowed by sampling
        t.hints.setdefault("chat-stream-tokens", float(figures["tokens_per_s"]))
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
    """Does a chat hold up other participants' saves? The save probe alone, then beside chats
    that start and end all the time (participants arriving at HOL_CHURN of the chat
    capacity, each a session and a chat: a busy worker, not an overloaded one); the headline
    is what those chats add to the probe's p99. In the first repeat (curves to read, not
    headlines), the probe also beside `hol_streams` slow streams held open, then beside
    `hol_saturation_streams`."""
    mode = t.mode
    alone = open_loop(t, mode.hol_probe_rate, mode.hol_seconds)
    rate = max(1.0, round(HOL_CHURN * chat_capacity(t)))
    figures: Figures = {"probe_alone": alone, "beside_churn": {
        "offered_chats_per_s": rate,
        **churn_step(t, rate, mode.hol_seconds, mode.hol_probe_rate)}}
    if t.repeat <= 1:
        for key, streams in (("beside", mode.hol_streams),
                             ("beside_saturation", mode.hol_saturation_streams)):
            if streams:
                figures[key] = probe_beside_streams(t, streams)
    for key in ("beside_churn", "beside", "beside_saturation"):
        if key in figures:
            figures[key]["added_p99_ms"] = round(figures[key]["probe"]["p99_ms"]
                                                 - alone["p99_ms"], 2)
    figures["added_p99_ms"] = figures["beside_churn"]["added_p99_ms"]
    return figures, float(figures["added_p99_ms"])


def chat_capacity(t: Target) -> float:
    """Chats/s of the churn's length a worker carries: the most tokens/s any variant's
    chat-stream relayed before the run first asked (relaying tokens is what fills the core);
    the mode's overload_capacity when none had run. Fixed at that first asking, so that every
    variant, in every repeat, is offered the same loads."""
    run = t.run_hints.setdefault(RUN_WIDE, {})
    if "chat-capacity" not in run:
        relayed = [h["chat-stream-tokens"] for h in t.run_hints.values()
                   if "chat-stream-tokens" in h]
        run["chat-capacity"] = (round(max(relayed, default=0.0) / CHURN_TOKENS)
                                or t.mode.overload_capacity)
    return run["chat-capacity"]


def probe_beside_streams(t: Target, streams: int) -> Figures:
    seconds = t.mode.hol_seconds
    probe, held = probe_beside(
        t, ["assessment_bench.load.chats", "--streams", str(streams), "--seconds",
            str(seconds + t.mode.hol_open_seconds), "--warmup", "0",
            "--message", hol_message(seconds)],
        lead=t.mode.hol_open_seconds, seconds=seconds)  # lead: every stream open, waiting
    return {"streams": streams, "probe": probe, "chats": held}


def probe_beside(t: Target, load: list[str], lead: float, seconds: float,
                 rate: float | None = None) -> tuple[Figures, Figures]:
    """The save probe (at `rate`, or hol_probe_rate) for `seconds` beside a chat load (a load
    module and its flags, given the server's URL first) that started `lead` seconds before
    it; (probe, the load's figures)."""
    module, *flags = load
    # Not at a lower priority than the probe: tried, the churn then fell behind its schedule
    # at the chat capacity (p99 70-80 ms late) and caught up in bursts, which the probe felt.
    background = subprocess.Popen(
        [*t.loadgen_prefix, sys.executable, "-m", module, t.base, *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(lead)
    probe = open_loop(t, rate or t.mode.hol_probe_rate, seconds)
    out, err = background.communicate(timeout=900)
    held = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err[-500:]}
    return probe, held


def camera_upload(t: Target) -> tuple[Figures, float]:
    figures = t.costed(lambda: load_process(
        "uploads", t.base, "--uploads", str(t.mode.uploads), "--mb", str(t.mode.upload_mb),
        "--rounds", str(t.mode.upload_rounds), prefix=t.loadgen_prefix), "mb",
        lambda f: f["uploads"] * f["frame_mb"] * t.mode.upload_rounds)
    return figures, float(figures["mb_per_s"])


def flow(t: Target, users: float) -> Figures:
    locustfile = Path(__file__).parent / "load" / "locustfile.py"
    seconds = t.mode.flow_seconds
    with tempfile.TemporaryDirectory() as folder:
        prefix = str(Path(folder) / "flow")
        subprocess.run(
            [*t.loadgen_prefix, sys.executable, "-m", "locust", "-f", str(locustfile),
             "--headless", "-u", str(int(users)), "-r", str(int(users)), "--run-time",
             f"{int(seconds)}s", "--host", t.base, "--csv", prefix, "--only-summary",
             "--loglevel", "ERROR", "--stop-timeout", "10"],
            capture_output=True, text=True, timeout=seconds + 120)
        return flow_step(Path(f"{prefix}_stats.csv"), int(users), seconds)


def assessment_flow(t: Target) -> tuple[Figures, float]:
    """The knee: the most participants doing whole assessments at once whose requests all
    meet their SLOs; the headline is the flows per minute they complete there, and what an
    architect budgets with: the server cores 1,000 participants at once would need."""
    mode = t.mode
    start, factor = t.search_start("assessment-flow", mode.flow_start)
    search = find_knee(
        lambda users: t.costed(lambda: flow(t, users), "flow",
                               lambda f: f["flows_per_min"] * mode.flow_seconds / 60),
        lambda step: step["within_slo"], float(round(start)), mode.flow_limit,
        mode.knee_precision, whole=True, factor=factor)
    if search.knee:
        t.hints.setdefault("assessment-flow", search.knee)
    knee = next((s for s in search.steps if s["load"] == search.knee), None)
    at_knee = knee["flows_per_min"] if knee else 0.0
    cores = (round(1000 * knee["server_cores_busy"] / knee["users"], 2)
             if knee and knee.get("server_cores_busy") else None)
    return search.as_figures() | {"slo_p99_ms": FLOW_SLO_P99_MS, "knee_users": search.knee,
                                  "knee_flows_per_min": at_knee,
                                  "cores_per_1000_participants": cores,
                                  "cpu_ms_per_flow": knee.get("cpu_ms_per_flow") if knee
                                  else None}, float(at_knee)


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


def growth(t: Target) -> tuple[Figures, float]:
    """How each side's cost grows with its work: saves/s and p99 as wrk's connections grow,
    then the server's memory for each open kept-alive connection and each open chat stream,
    at each count the mode names. The headline is saves/s at the most connections."""
    mode = t.mode
    curve = []
    for connections in mode.growth_connections:
        schedule, length = t.workload.schedule(MOST_SAVES_PER_S * mode.growth_seconds)
        step = run_wrk(t.base, schedule, length, mode.growth_seconds, connections,
                       prefix=t.loadgen_prefix)
        curve.append({"connections": connections, **step})
    memory = [held_memory(t, kind, count) for kind in ("idle", "streams")
              for count in mode.growth_held]
    return {"curve": curve, "memory": memory}, float(curve[-1]["saves_per_s"])


def held_memory(t: Target, kind: str, count: int) -> Figures:
    """The server's RSS with `count` connections of `kind` held open, against before."""
    before = t.server_rss()
    holder = subprocess.Popen(
        [*t.loadgen_prefix, sys.executable, "-m", "assessment_bench.load.hold", t.base,
         f"--{kind}", str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stderr is not None
        line = holder.stdout.readline()
        if not line:
            raise RuntimeError(f"hold {kind} {count} failed: {holder.stderr.read()[-500:]}")
        opened = json.loads(line)
        time.sleep(1)  # let the server settle with them all open
        held = max(t.server_rss() for _ in range(3))
    finally:
        try:
            holder.communicate(input="", timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.communicate()
    per = (held - before) * 2**20 / opened["opened"] if opened["opened"] else None
    return {**opened, "rss_before_mb": round(before, 1), "rss_held_mb": round(held, 1),
            "kib_each": round(per / 1024, 1) if per is not None else None}


def overload(t: Target) -> tuple[Figures, float]:
    """Chats offered from below to well above what the worker carries, streams starting and
    ending all the time (each participant a session and a chat back to back), a save probe
    beside them at a fixed rate. Per offered load: the probe's latency, chats completed per
    second, chats refused and how fast. The headline is the worst save p99 at any load up to
    twice the chat capacity (chat_capacity)."""
    mode = t.mode
    capacity = chat_capacity(t)
    steps: list[Figures] = []
    for factor in mode.overload_factors:
        rate = max(1.0, round(factor * capacity))
        steps.append({"factor": factor, "offered_chats_per_s": rate,
                      **churn_step(t, rate, mode.overload_seconds, mode.overload_probe_rate)})
    within = [s for s in steps if s["factor"] <= 2] or steps
    worst = max(s["probe"]["p99_ms"] for s in within)
    return {"capacity_chats_per_s": capacity, "steps": steps,
            "save_p99_ms_up_to_2x": worst}, float(worst)


def churn_step(t: Target, rate: float, seconds: float, probe_rate: float) -> Figures:
    """The save probe (at `probe_rate`) for `seconds` beside chats arriving at `rate` a
    second, and what the server's core spent on them: the probe's figures, the churn's, the
    core's busy share, CPU ms a chat."""
    def beside() -> Figures:  # lead: the churn at its pace before the probe starts
        probe, chats = probe_beside(
            t, ["assessment_bench.load.churn", "--rate", str(rate), "--seconds",
                str(seconds + OVERLOAD_LEAD)], lead=OVERLOAD_LEAD, seconds=seconds,
            rate=probe_rate)
        return {"probe": probe, "chats": chats}

    return t.costed(beside, "chat", lambda step: step["chats"].get("completed", 0))


RUNNERS: dict[str, Callable[[Target], tuple[Figures, float]]] = {
    "phq-save": phq_save,
    "phq-open": phq_open,
    "chat-stream": chat_stream,
    "hol": hol,
    "camera-upload": camera_upload,
    "assessment-flow": assessment_flow,
    "db-latency": phq_save,  # the same saturation, against a server whose database is slow
    "growth": growth,
    "overload": overload,
}
