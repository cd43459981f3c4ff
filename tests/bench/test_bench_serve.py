"""`assessment-bench serve`: a variant in the foreground, stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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
