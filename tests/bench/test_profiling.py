"""Profiles: py-spy on a live process, and samples put down to the right layer of code."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from assessment_bench.profiling import NATIVE, OTHER, portable, read_folded, recording, summarise

ROUTE = "save (assessment_async/blueprints/phq.py)"
QUART = "Quart.handle_request (quart/app.py)"


def test_a_sample_counts_for_the_innermost_frame_of_a_known_layer() -> None:
    stacks = Counter({
        # the route awaiting the driver: database time
        f"run (uvicorn/main.py);{QUART};{ROUTE};Connection.execute (asyncpg/connection.py)": 5,
        # a stdlib helper inside werkzeug: werkzeug's (the framework's) time
        f"run (uvicorn/main.py);{QUART};MapAdapter.match (werkzeug/routing/map.py);"
        "match (re/__init__.py)": 3,
        # the app's metrics module is not "the app"
        f"{QUART};ObservedApp.__call__ (assessment_async/metrics.py);"
        "Histogram.observe (prometheus_client/metrics.py)": 1,
        f"{QUART};{ROUTE}": 1,
        "<module> (<frozen runpy>);sleep (time.py)": 1,
        "process:python -m gunicorn": 1,
    })
    figures = summarise(stacks, top=2)
    assert figures["samples"] == 12
    assert figures["layers"] == {"framework": 25.0, "database": 41.7, "metrics and logs": 8.3,
                                 "the app": 8.3, OTHER: 16.7}
    assert figures["hottest"] == [
        {"function": "Connection.execute (asyncpg/connection.py)", "percent": 41.7},
        {"function": "match (re/__init__.py)", "percent": 25.0}]
    assert {"function": NATIVE, "percent": 8.3} in summarise(stacks, top=10)["hottest"]


def test_folded_stacks_keep_no_machine_paths_or_process_ids() -> None:
    worker = 'process {}:"/srv/venv/bin/python /srv/venv/bin/gunicorn -c /srv/app/conf.py"'
    lines = [f"{worker.format(100)};{worker.format(101)};main (/srv/app/conf/gunicorn_conf.py);"
             "save (x/phq.py) 4",
             f"{worker.format(100)};{worker.format(102)};main (/srv/app/conf/gunicorn_conf.py);"
             "save (x/phq.py) 1",
             "broken line"]
    process = "process:python gunicorn -c conf.py"
    assert portable("\n".join(lines)) == (
        f"{process};{process};main (gunicorn_conf.py);save (x/phq.py) 5\n")


def test_py_spy_records_a_running_process(tmp_path: Path) -> None:
    module = tmp_path / "busy_worker.py"
    module.write_text("import json\n\ndef churn():\n    while True:\n"
                      "        json.dumps({'a': list(range(200))})\n\nchurn()\n")
    busy = subprocess.Popen([sys.executable, str(module)])
    out = tmp_path / "profiles" / "busy.folded"
    try:
        with recording(busy.pid, out) as profile:
            time.sleep(1.5)
    finally:
        busy.kill()
        busy.wait()
    assert profile["file"] == "profiles/busy.folded", profile
    assert profile["samples"] >= 50  # 100 a second, for 1.5 s of a process always running
    stacks = read_folded(out)
    assert sum(stacks.values()) == profile["samples"]
    assert any("churn (busy_worker.py)" in stack for stack in stacks)
    assert str(tmp_path) not in out.read_text()
