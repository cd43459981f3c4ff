"""`assessment-bench serve`: a variant in the foreground, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from assessment_bench.variants import wait_ready
from assessment_dev.ports import free_port, port_is_free


def test_sigterm_stops_the_variant_and_its_server(database_url: str) -> None:
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url, "LOG_LEVEL": "INFO"}
    process = subprocess.Popen([sys.executable, "-m", "assessment_bench.cli", "serve", "asgi",
                                "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        wait_ready(process, port)
        started = psutil.Process(process.pid).children(recursive=True)
        assert started  # the server and the fake LLM
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:  # it hung: leave nothing behind for the next test
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert port_is_free(port)


def test_sigterm_stops_a_bench_run_and_everything_it_started(
    database_url: str, tmp_path: Path,
) -> None:
    env = os.environ | {"DATABASE_URL": database_url}
    process = subprocess.Popen([sys.executable, "-m", "assessment_bench.cli", "run", "--smoke",
                                "--variants", "asgi", "--scenarios", "chat-stream",
                                "--out", str(tmp_path / "run")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until the variant's server is up
            started = psutil.Process(process.pid).children(recursive=True)
            if any("serve" in " ".join(p.cmdline()) for p in started):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no server was started")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.communicate()
    assert process.returncode == 130, output.decode(errors="replace")
    time.sleep(1)
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert "interrupted" in output.decode()
