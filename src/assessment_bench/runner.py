"""`assessment-bench run`: every variant through every scenario on the same pinned core.

PostgreSQL (embedded, or DATABASE_URL), the fake LLM, the load generators and the database
delay proxy run on the other core(s); each variant in turn gets core 0, fresh data, a
warm-up, then the scenarios, `repeats` times. Everything started here is stopped here, on
Ctrl-C too; what was measured before an interruption is still reported.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from assessment_bench import environment, loop_lag, profiling
from assessment_bench.load.delay_proxy import running as delay_proxy_in_front
from assessment_bench.load.wrk import run_wrk
from assessment_bench.metrics import (
    Sampler,
    cpu_seconds,
    postgres,
    rss_mb,
    settle,
    tree,
    tree_of_one,
)
from assessment_bench.modes import FAKE_LLM_GAP, FAKE_LLM_TOKENS, FAKE_LLM_TTFT, Mode
from assessment_bench.scenarios import (
    HEADLINES,
    MOST_SAVES_PER_S,
    RUNNERS,
    Target,
    load_process,
)
from assessment_bench.variants import VARIANTS, start, stop, wait_ready
from assessment_bench.workload import Workload
from assessment_core import migrate
from assessment_core.settings import Settings
from assessment_dev.embedded_db import EmbeddedPostgres
from assessment_dev.fake_llm.launch import running_fake_llm
from assessment_dev.ports import free_port
from assessment_dev.topology import running_nginx, running_pgbouncer

SERVER_CORE = "0"
OTHER_CORES = "1" if (os.cpu_count() or 2) <= 2 else f"1-{(os.cpu_count() or 2) - 1}"
PIN_SERVER = ("taskset", "-c", SERVER_CORE)
PIN_OTHERS = ("taskset", "-c", OTHER_CORES)
FAKE_LLM_PROFILE = ("--ttft", str(FAKE_LLM_TTFT), "--tokens", str(FAKE_LLM_TOKENS),
                    "--gap", str(FAKE_LLM_GAP))
BENCH_DATABASE = "assessment_bench"
# Everything that runs on the helper core(s): its summed CPU says whether they kept up.
HELPERS = ("postgres", "fake_llm", "load_generator", "profiler", "proxies", "bench")
# Measured in rounds when the mode says so (Bench._rounds).
PAIRED_SCENARIO = "phq-save"
HELPER_CORE_COUNT = max(1, (os.cpu_count() or 2) - 1)
# Room for the most streams and connections any scenario holds (growth holds 10,000).
CHAT_STREAM_ROOM = 12000


@dataclass
class RunConfig:
    mode: Mode
    variants: list[str]
    scenarios: list[str]
    repeats: int
    out: Path
    baseline: str = "gevent-green"
    profile: tuple[str, ...] = ()  # variants sampled with py-spy in their first repeat
    # Settings per variant on top of its own (the tuning step's: sweep.py), e.g.
    # {"gthread": {"THREADS": "128"}}.
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class Record:
    started: str
    results: list[dict[str, Any]] = field(default_factory=list)
    ceiling: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False


_STARTED = time.monotonic()
_PROGRESS_LOG: list[Path] = []  # the run folder's progress.log, once the run has begun


def say(message: str) -> None:
    """A line of the run's progress, with the minutes since the bench started (what each
    scenario costs is how the modes were sized to fit their time), printed and kept in the
    run folder's progress.log."""
    minutes, seconds = divmod(int(time.monotonic() - _STARTED), 60)
    line = f"{minutes:3d}:{seconds:02d} {message}"
    print(line, flush=True)
    for path in _PROGRESS_LOG:
        with path.open("a") as log:
            log.write(line + "\n")


def keep_progress_in(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "progress.log"
    path.write_text("")
    _PROGRESS_LOG[:] = [path]


@contextmanager
def bench_database(settings: Settings) -> Iterator[tuple[str, str]]:
    """(url, PostgreSQL version) of a fresh bench database; the embedded server by default."""
    server = None
    if settings.database_url:
        url = settings.database_url
    else:
        server = EmbeddedPostgres(settings.data_dir, settings.embedded_pg_port)
        server.start()
        url = server.ensure_database(BENCH_DATABASE, fresh=True)
        pid_line = (server.pgdata / "postmaster.pid").read_text().splitlines()[0]
        subprocess.run(["taskset", "-a", "-p", "-c", OTHER_CORES, pid_line],
                       capture_output=True, check=False)
    migrate.upgrade(url)
    version = asyncio.run(_version(url))
    try:
        yield url, version
    finally:
        if server is not None and server.started_here:
            server.stop()


async def _version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def _reset(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("TRUNCATE sessions CASCADE")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


@contextmanager
def delay_proxy(database_url: str, delay_ms: float) -> Iterator[str]:
    """The database URL rewritten through a proxy that delays each direction by delay_ms."""
    target = database_url.split("@", 1)[1].split("/", 1)[0]
    with delay_proxy_in_front(target, delay_ms, PIN_OTHERS) as proxied:
        yield database_url.replace(target, proxied)


class Bench:
    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.serves = 0
        self.hints: dict[str, dict[str, float]] = {}  # per variant, across its repeats
        self.record = Record(started=datetime.now(UTC).isoformat())
        self.work = Path(self._tempdir())

    @staticmethod
    def _tempdir() -> str:
        import tempfile

        return tempfile.mkdtemp(prefix="assessment-bench-")

    def run(self) -> Record:
        config = self.config
        rounds = max(1, config.mode.paired_rounds)
        total = sum(len(self.scenarios_of(name, repeat))
                    + (rounds - 1) * (PAIRED_SCENARIO in self.scenarios_of(name, repeat))
                    for name in config.variants for repeat in range(1, config.repeats + 1)) \
            + sum(len(self.scenarios_of(name, 0)) for name in config.profile)
        step = 0
        keep_progress_in(config.out)
        if config.profile:
            shutil.rmtree(config.out / "profiles", ignore_errors=True)  # an earlier run's
            self.record.caveats.append(
                f"py-spy sampled {', '.join(config.profile)} in a repeat of their own "
                f"(repeat 0, {profiling.RATE} samples/s, stopping the server's threads for "
                "each); its figures are left out of every median and ratio.")
        try:
            with self.helpers() as (db_url, llm_url, fake_pid):
                # Repeat 0 is the profiled variants' alone: sampling slows a server, so its
                # figures never reach a median.
                for repeat in range(0 if config.profile else 1, config.repeats + 1):
                    if repeat:
                        self._ceiling(db_url, repeat)
                    # Each repeat starts with the next variant: whoever runs first runs right
                    # after the driver ceiling's burst of writes, and nobody should always be it.
                    shift = (repeat - 1) % len(config.variants)
                    order = config.variants[shift:] + config.variants[:shift]
                    if self.paired(repeat):
                        step = self._rounds(order, repeat, db_url, llm_url, fake_pid, step,
                                            total)
                    for name in order if repeat else config.profile:
                        step = self.measure_variant(name, repeat, db_url, llm_url, fake_pid,
                                                    step, total)
        except KeyboardInterrupt:
            self.record.interrupted = True
            self.record.caveats.append("The run was interrupted; figures are partial.")
            say("interrupted: stopping everything and writing what was measured")
        return self.record

    @contextmanager
    def helpers(self) -> Iterator[tuple[str, str, int]]:
        """PostgreSQL (fresh bench database) and the fake LLM on the helper core(s), with the
        bench itself off the server's core, for as long as a run lasts; (database URL, LLM
        URL, the fake LLM's pid). The run's scratch folder is removed after."""
        # The bench itself (its sampler wakes ten times a second) stays off the server's core.
        os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)) or {0})
        with ExitStack() as stack:
            try:
                db_url, pg_version = stack.enter_context(bench_database(Settings()))
                llm_url = stack.enter_context(running_fake_llm(*FAKE_LLM_PROFILE,
                                                               prefix=PIN_OTHERS))
                self.llm_url = llm_url
                self.record.environment = environment.describe(SERVER_CORE, OTHER_CORES,
                                                               pg_version)
                yield db_url, llm_url, self._fake_llm_pid()
            finally:
                shutil.rmtree(self.work, ignore_errors=True)

    def measure_variant(self, name: str, repeat: int, db_url: str, llm_url: str,
                        fake_pid: int, step: int, total: int) -> int:
        """The variant's scenarios of this repeat; one that fails to start or serve is a
        caveat, and the run goes on."""
        try:
            return self._variant(name, repeat, db_url, llm_url, fake_pid, step, total)
        except (RuntimeError, OSError, httpx.HTTPError, asyncpg.PostgresError) as error:
            self.record.caveats.append(f"{name} (repeat {repeat}) could not be measured: {error}")
            say(f"{name} (repeat {repeat}): could not be measured: {error}")
            return step

    def _fake_llm_pid(self) -> int:
        import psutil

        for child in psutil.Process().children(recursive=True):
            if "assessment_dev.fake_llm" in " ".join(child.cmdline()):
                return int(child.pid)
        return -1

    def _ceiling(self, db_url: str, repeat: int) -> None:
        if "phq-save" not in self.config.scenarios:
            return
        asyncio.run(_reset(db_url))
        seconds = self.config.mode.seconds
        schedule, _ = Workload(db_url, self.work).schedule(MOST_SAVES_PER_S * seconds)
        figures = load_process("ceiling", db_url, "--seconds", str(seconds), "--schedule",
                               str(schedule), prefix=PIN_SERVER)
        figures["repeat"] = repeat
        self.record.ceiling.append(figures)
        say(f"raw driver ceiling (asyncpg, no HTTP, core {SERVER_CORE}): "
            f"{figures['saves_per_s']:,.0f} saves/s")

    def _warmed(self, name: str, pid: int, base: str, metrics: str, db_url: str,
                repeat: int) -> Target:
        """The served variant warmed up with 2 s of saves (not recorded, not in smoke), as
        its scenarios' target."""
        mode = self.config.mode
        workload = Workload(db_url, self.work)
        if mode.name != "smoke":
            warmup, length = workload.schedule(MOST_SAVES_PER_S * 2)
            run_wrk(base, warmup, length, 2, mode.connections, prefix=PIN_OTHERS)
        return Target(base, mode, workload, PIN_OTHERS, metrics, cpu_seconds(tree(pid)),
                      rss_mb(tree(pid)), self.hints.setdefault(name, {}), repeat, self.hints)

    def _rounds(self, order: list[str], repeat: int, db_url: str, llm_url: str,
                fake_pid: int, step: int, total: int) -> int:
        """phq-save of every variant that measures it, in rounds: all their servers up at
        once on the server core (idle, each costs nothing), each round measuring every
        variant in turn, a fresh schedule each time."""
        mode = self.config.mode
        names = [n for n in order if PAIRED_SCENARIO in self.scenarios_of(n, repeat)]
        if not names:
            return step
        with ExitStack() as servers:
            targets: dict[str, tuple[int, Target]] = {}
            for name in names:
                try:
                    process, base, metrics = servers.enter_context(
                        self._serving(name, db_url, llm_url, reset=not targets))
                except (RuntimeError, OSError, httpx.HTTPError) as error:
                    self.record.caveats.append(
                        f"{name} (repeat {repeat}) could not be measured: {error}")
                    say(f"{name} (repeat {repeat}): could not be measured: {error}")
                    continue
                targets[name] = (process.pid, self._warmed(name, process.pid, base, metrics,
                                                           db_url, repeat))
            for round_ in range(mode.paired_rounds):
                turn = len(targets) and round_ % len(targets)
                for name in list(targets)[turn:] + list(targets)[:turn]:
                    pid, target = targets[name]
                    step += 1
                    self._measure(name, PAIRED_SCENARIO, repeat, target, pid, fake_pid, step,
                                  total, round_=round_)
        return step

    def _variant(self, name: str, repeat: int, db_url: str, llm_url: str, fake_pid: int,
                 step: int, total: int) -> int:
        mode = self.config.mode
        chosen = self.scenarios_of(name, repeat)
        scenarios = [s for s in chosen if s != "db-latency"
                     and not (s == PAIRED_SCENARIO and self.paired(repeat))]
        if scenarios:
            with self._serving(name, db_url, llm_url) as (process, base, metrics):
                target = self._warmed(name, process.pid, base, metrics, db_url, repeat)
                for scenario in scenarios:
                    step += 1
                    self._measure(name, scenario, repeat, target, process.pid, fake_pid, step,
                                  total)
        if "db-latency" in chosen:
            step += 1
            with delay_proxy(db_url, mode.db_delay_ms) as slow_url, \
                    self._serving(name, slow_url, llm_url, reset_url=db_url) as (process, base,
                                                                                  metrics):
                target = Target(base, mode, Workload(db_url, self.work), PIN_OTHERS, metrics,
                                cpu_seconds(tree(process.pid)))
                self._measure(name, "db-latency", repeat, target, process.pid, fake_pid, step,
                              total)
        return step

    def scenarios_of(self, name: str, repeat: int) -> list[str]:
        """What this variant runs in this repeat: its tier's scenarios (modes.py), and the
        once-only scenarios (curves, not headlines) in the first measured repeat alone."""
        mode = self.config.mode
        chosen = list(self.config.scenarios)
        if name in mode.tiers:
            chosen = [s for s in chosen if s in mode.tiers[name]]
        if repeat == 0:
            chosen = [s for s in chosen if s in mode.profile_scenarios]
        return [s for s in chosen if repeat <= 1 or s not in mode.once_scenarios]

    def paired(self, repeat: int) -> bool:
        """phq-save measured in rounds, every variant's server up at once (modes.py)."""
        return bool(repeat and self.config.mode.paired_rounds)

    @contextmanager
    def _serving(self, name: str, db_url: str, llm_url: str, reset_url: str | None = None,
                 reset: bool = True) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
        """The variant's server on the server core, on fresh data (unless `reset` is off:
        servers started together share one reset); (process, base URL, metrics URL). A
        variant with hops reaches PostgreSQL through PgBouncer, or is reached through nginx,
        or both, each on the helper core(s)."""
        variant = VARIANTS[name]
        if reset:
            asyncio.run(_reset(reset_url or db_url))
        captures = self.work / f"captures-{name}"
        shutil.rmtree(captures, ignore_errors=True)
        port, metrics_port = free_port(), free_port()
        self.serves += 1
        log_path = self.work / f"{name}-{self.serves}.log"
        with ExitStack() as hops, open(log_path, "wb") as log:
            if "pgbouncer" in variant.hops:
                db_url = hops.enter_context(running_pgbouncer(db_url, prefix=PIN_OTHERS))
            # Every variant gets the same settings. The chat scenarios send turns back to
            # back from each session, far above a participant's pace, so the per-minute cap
            # is off. The chat saturation step holds thousands of streams: every variant may
            # open as many upstream streams, and the gevent workers may hold as many
            # connections. growth holds idle connections and waiting streams for seconds
            # while it weighs them: kept-alive connections stay a minute (not 5 s) and a
            # stream may wait two for its first token.
            env = {"DATABASE_URL": db_url, "LLM_BASE_URL": llm_url,
                   "CAPTURE_DIR": str(captures), "LOG_LEVEL": "ERROR",
                   "CHAT_TURNS_PER_MINUTE": "0", "LLM_MAX_STREAMS": str(CHAT_STREAM_ROOM),
                   "WORKER_CONNECTIONS": str(CHAT_STREAM_ROOM), "KEEPALIVE_TIMEOUT": "60",
                   "LLM_READ_TIMEOUT": "120", "METRICS_PORT": str(metrics_port)} \
                | self.config.overrides.get(name, {})
            process = start(variant, port, env=env, prefix=PIN_SERVER, stdout=log,
                            stderr=subprocess.STDOUT)
            try:
                wait_ready(process, port)
                base = f"http://127.0.0.1:{port}"
                if "nginx" in variant.hops:
                    # Every bench participant comes from one address: no per-address cap.
                    base = hops.enter_context(running_nginx(
                        [f"127.0.0.1:{port}"], session_rate="100000r/s", session_burst=100000,
                        prefix=PIN_OTHERS))
                yield process, base, f"http://127.0.0.1:{metrics_port}"
            finally:
                stop(process)
        self._keep_log(name, log_path)

    def _keep_log(self, name: str, path: Path) -> None:
        """A server that logged errors (at LOG_LEVEL=ERROR, anything it logged) keeps its
        log in the run folder, without machine paths, and the report says so."""
        text = path.read_text(errors="replace").strip()
        if not text:
            return
        kept = self.config.out / "logs" / path.name
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(portable_log(text) + "\n")
        lines = len(text.splitlines())
        self.record.caveats.append(f"{name}'s server logged {lines:,} lines at ERROR level "
                                   f"(logs/{path.name}).")

    def _measure(self, name: str, scenario: str, repeat: int, target: Target, server_pid: int,
                 fake_pid: int, step: int, total: int, round_: int | None = None) -> None:
        key, unit, _ = HEADLINES[scenario]
        server = tree(server_pid)
        own = os.getpid()

        def loadgen() -> list[Any]:
            import psutil

            skip = {p.pid for p in server()} | {p.pid for p in tree(fake_pid)()} | {own}
            return [p for p in psutil.Process().children(recursive=True)
                    if p.pid not in skip and not _is_profiler(p) and not _is_proxy(p)]

        def profilers() -> list[Any]:
            import psutil

            return [p for p in psutil.Process().children(recursive=True) if _is_profiler(p)]

        def proxies() -> list[Any]:
            import psutil

            return [p for p in psutil.Process().children(recursive=True) if _is_proxy(p)]

        groups = {"server": server, "postgres": postgres, "fake_llm": tree(fake_pid),
                  "load_generator": loadgen, "profiler": profilers, "proxies": proxies,
                  "bench": tree_of_one(own)}
        # The previous scenario's backlog is not this one's load: turns still being stored on
        # the server, autovacuum and checkpoint writes in PostgreSQL (on the load's core).
        settled = settle(server) + settle(postgres)
        started = time.monotonic()
        lag_before = loop_lag.scrape(target.metrics)
        upstream_before = fake_llm_stats(self.llm_url)
        profile: dict[str, Any] = {}
        try:
            with self._profiling(name, scenario, repeat, server_pid) as profile, \
                    Sampler(groups, helpers=HELPERS) as sampler:
                figures, headline = RUNNERS[scenario](target)
        except (RuntimeError, subprocess.SubprocessError, OSError, ValueError) as error:
            self.record.caveats.append(f"{name} {scenario} (repeat {repeat}) failed: {error}")
            say(f"[{step}/{total}] {name} · {scenario}: FAILED ({error})")
            return
        resources = sampler.summary()
        lag = loop_lag.lag_between(lag_before, loop_lag.scrape(target.metrics))
        result = {
            "variant": name, "scenario": scenario, "repeat": repeat, "headline": headline,
            "figures": figures, "resources": resources, "loop_lag": lag, "settled_s": settled,
            "fake_llm": fake_llm_lateness(upstream_before, fake_llm_stats(self.llm_url)),
            "seconds": round(time.monotonic() - started, 1)}
        if round_ is not None:
            # Rounds are samples of their own: round r of repeat i pairs with the other
            # variants' round r of repeat i, measured within the same minute.
            result["round"] = round_
            result["sample"] = (repeat - 1) * self.config.mode.paired_rounds + round_ + 1
        if profile:
            result["profile"] = profile
            result["profiled"] = True
            if "error" in profile:
                self.record.caveats.append(f"{name} {scenario} was not profiled: "
                                           f"{profile['error']}")
        self.record.results.append(result)
        where = f"repeat {repeat}" + (f", round {round_ + 1}" if round_ is not None else "")
        say(f"[{step}/{total}] {name} · {scenario} ({where}): {headline:,.1f} {unit}"
            f" · server CPU {resources['server']['cpu_percent']:.0f}%")

    @contextmanager
    def _profiling(self, name: str, scenario: str, repeat: int,
                   server_pid: int) -> Iterator[dict[str, Any]]:
        """py-spy on the server while the scenario runs, in the profiled variants' repeat 0
        only, so the measured repeats carry no sampling cost at all."""
        if name not in self.config.profile or repeat != 0:
            yield {}
            return
        out = self.config.out / "profiles" / f"{name}-{scenario}.folded"
        with profiling.recording(server_pid, out, prefix=PIN_OTHERS) as profile:
            yield profile


KEPT_LOG_LINES = 100  # of a server log, the first and the last this many


def portable_log(text: str) -> str:
    """A server log as the run folder keeps it: the machine's paths cut down to the
    package's own, and a long one (a pitfall variant fails every request) cut to its first
    and last KEPT_LOG_LINES lines."""
    # Tracebacks name files as `File "..."`, or `File \"...\"` inside a JSON log line.
    text = re.sub(r'(File \\?")[^"\\]*/(site-packages|src)/', r"\1", text)
    text = re.sub(r"/(tmp|root|home|work|Users|opt|var/folders)/[\w.\-/]*", "<path>", text)
    lines = text.splitlines()
    if len(lines) > 2 * KEPT_LOG_LINES:
        gap = len(lines) - 2 * KEPT_LOG_LINES
        lines = [*lines[:KEPT_LOG_LINES], f"... ({gap:,} lines left out) ...",
                 *lines[-KEPT_LOG_LINES:]]
    return "\n".join(lines)


def fake_llm_stats(llm_url: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(llm_url.removesuffix("/v1") + "/_stats", timeout=10).json()
    return answer


def fake_llm_lateness(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any] | None:
    """How late the fake LLM sent its tokens over a scenario, against its own cadence: the
    tokens it sent and the upper edge of the bucket that holds the 99th percentile (ms)."""
    counts = [b - a for a, b in zip(before["late_tokens"], after["late_tokens"], strict=True)]
    tokens = sum(counts)
    if not tokens:
        return None
    edges = [*after["lateness_edges_ms"], float("inf")]
    seen = 0
    for edge, count in zip(edges, counts, strict=True):
        seen += count
        if seen >= 0.99 * tokens:
            return {"tokens": tokens, "lateness_p99_ms": edge}
    return {"tokens": tokens, "lateness_p99_ms": edges[-1]}


def _is_profiler(process: Any) -> bool:
    """py-spy, which samples the server from the other core, is not load."""
    import psutil

    try:
        return bool(process.name() == "py-spy")
    except psutil.Error:  # gone since it was listed
        return False


def _is_proxy(process: Any) -> bool:
    """nginx and PgBouncer in front of a proxied variant: helpers, not load."""
    import psutil

    try:
        return bool(process.name() in ("nginx", "pgbouncer"))
    except psutil.Error:  # gone since it was listed
        return False
