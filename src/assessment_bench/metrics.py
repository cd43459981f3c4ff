"""Resource figures: CPU and RSS of each process group the bench runs, sampled in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psutil

Finder = Callable[[], list[psutil.Process]]


def tree(pid: int) -> Finder:
    """A process and all its children (a Gunicorn master and its workers, say)."""
    def find() -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
    return find


def cpu_seconds(finder: Finder) -> Callable[[], float]:
    """The CPU seconds the processes found have used so far (user and system)."""
    def used() -> float:
        total = 0.0
        for process in finder():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total
    return used


def rss_mb(finder: Finder) -> Callable[[], float]:
    """The resident memory the processes found hold now, in MB."""
    def held() -> float:
        total = 0
        for process in finder():
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20
    return held


def tree_of_one(pid: int) -> Finder:
    """One process alone (the bench's own, whose children are counted apart)."""
    def find() -> list[psutil.Process]:
        try:
            return [psutil.Process(pid)]
        except psutil.NoSuchProcess:
            return []
    return find


def postgres() -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "postgres":
            found.append(process)
    return found


def settle(finder: Finder, quiet_percent: float = 10.0, window: float = 0.5,
           timeout: float = 60.0) -> float:
    """Wait until the processes use under `quiet_percent` of a core over one `window`, so a
    scenario does not inherit the previous one's backlog (streams being closed, turns being
    stored); the seconds waited. Gives up after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        processes = finder()
        for process in processes:
            try:
                process.cpu_percent(None)
            except psutil.NoSuchProcess:
                pass
        time.sleep(window)
        busy = 0.0
        for process in processes:
            try:
                busy += process.cpu_percent(None)
            except psutil.NoSuchProcess:
                pass
        if busy < quiet_percent:
            break
    return round(time.monotonic() - started, 1)


CLOCK_SLACK = 1.0  # seconds


class Sampler:
    """Mean CPU (% of one core) and peak RSS (MB) per named group while the block runs, and
    the summed CPU of the groups that share the helper core(s): its mean, p95 and peak over
    samples 0.1 s apart, often enough to see a burst that a mean over the run would hide."""

    # Finding the processes (a walk over /proc for PostgreSQL's backends) costs more than
    # reading their CPU: the groups are found again once a second, read ten times a second.
    FIND_EVERY = 10

    def __init__(self, groups: dict[str, Finder], helpers: tuple[str, ...] = (),
                 interval: float = 0.1) -> None:
        self.groups = groups
        self.helpers = helpers
        self.interval = interval
        self._found: dict[str, list[psutil.Process]] = {}
        self._samples = 0
        self.helper_cpu: list[float] = []
        self.cpu: dict[str, list[float]] = {name: [] for name in groups}
        self.rss: dict[str, float] = dict.fromkeys(groups, 0.0)
        self.rss_start: dict[str, float] = {}
        self._seen: dict[int, psutil.Process] = {}
        self._cpu_seconds: dict[int, float] = {}  # per process, at its last sample
        self._last = time.monotonic()
        self._started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _measure(self, name: str, elapsed: float) -> tuple[float, float, float]:
        """The group's CPU over the last `elapsed` seconds (% of one core), its RSS (MB), and
        the CPU seconds of processes just found that they used before this sample. A process
        first seen since the sampler started counts from its birth, so one that lives a
        second or two is not missed."""
        cpu = rss = before = 0.0
        if name not in self._found or self._samples % self.FIND_EVERY == 0:
            self._found[name] = self.groups[name]()
        for process in self._found[name]:
            known = self._seen.setdefault(process.pid, process)
            try:
                times = known.cpu_times()
                used = times.user + times.system
                if known.pid not in self._cpu_seconds:
                    # psutil dates a process from boot time and clock ticks, which can read
                    # a fraction of a second before the wall clock: allow for it.
                    born_since = known.create_time() >= self._started - CLOCK_SLACK
                    self._cpu_seconds[known.pid] = used
                    before += used if born_since and elapsed else 0.0
                cpu += 100 * (used - self._cpu_seconds[known.pid]) / elapsed if elapsed else 0
                self._cpu_seconds[known.pid] = used
                rss += known.memory_info().rss
            except psutil.Error:
                continue
        return cpu, rss / 2**20, before

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._samples += 1
            now = time.monotonic()
            elapsed, self._last = now - self._last, now
            for name in self.groups:
                cpu, rss, before = self._measure(name, elapsed)
                self.cpu[name].append(cpu)
                self.rss[name] = max(self.rss[name], rss)
                if before:
                    self._spread(name, before)
            if self.helpers:
                self.helper_cpu.append(sum(self.cpu[name][-1] for name in self.helpers))

    def _spread(self, name: str, seconds: float) -> None:
        """Give CPU a process used before it was found to the samples it was not found in
        (at most a search's worth), so a burst is not reported where there was none."""
        back = min(self.FIND_EVERY, len(self.cpu[name]))
        share = 100 * seconds / (back * self.interval)
        for index in range(1, back + 1):
            self.cpu[name][-index] += share
            if self.helpers and name in self.helpers and index > 1 \
                    and len(self.helper_cpu) >= index - 1:
                self.helper_cpu[-(index - 1)] += share

    def __enter__(self) -> Sampler:
        self._started = time.time()
        for name in self.groups:
            self.rss_start[name] = self._measure(name, 0.0)[1]  # also notes the CPU so far
        self._last = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in self.groups:
            samples = self.cpu[name][1:] or self.cpu[name] or [0.0]
            out[name] = {"cpu_percent": round(sum(samples) / len(samples), 1),
                         "rss_mb": round(self.rss[name], 1),
                         "rss_growth_mb": round(self.rss[name] - self.rss_start[name], 1)}
        if self.helpers:
            ordered = sorted(self.helper_cpu[1:] or self.helper_cpu or [0.0])
            out["helper_cores"] = {
                "cpu_percent": round(sum(ordered) / len(ordered), 1),
                "p95_cpu_percent": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
                "max_cpu_percent": round(ordered[-1], 1), "samples": len(ordered)}
        return out


def wait_a_moment() -> None:
    time.sleep(0.5)
