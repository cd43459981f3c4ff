"""The bench's CPU sampler counts a process from its birth, even one found late."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from assessment_bench.metrics import Sampler

BUSY = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass\n"


def test_a_short_lived_process_started_inside_the_window_is_counted_whole() -> None:
    children: list[psutil.Process] = []
    with Sampler({"busy": lambda: children, "idle": lambda: []}, helpers=("busy", "idle"),
                 interval=0.1) as sampler:
        child = subprocess.Popen([sys.executable, "-c", BUSY])
        time.sleep(0.5)  # found only at the sampler's next search, a moment after its birth
        children.append(psutil.Process(child.pid))
        child.wait()
        time.sleep(0.3)
    summary = sampler.summary()
    samples = len(sampler.cpu["busy"][1:])
    busy_seconds = summary["busy"]["cpu_percent"] / 100 * sampler.interval * samples
    # Most of its 1.5 s of CPU, the time before the sampler found it included.
    assert busy_seconds > 1.0, summary
    assert summary["idle"]["cpu_percent"] == 0
    assert summary["helper_cores"]["samples"] >= 10
    # Its CPU from before it was found is spread over the samples it missed, not reported as
    # one sample of several cores.
    assert summary["helper_cores"]["cpu_percent"] <= summary["helper_cores"]["max_cpu_percent"]
    assert summary["helper_cores"]["max_cpu_percent"] < 150, summary
