"""Profiles: py-spy on a live process, and samples put down to the right layer of code."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest

from assessment_bench.profiling import (
    LAYER_NAMES,
    NATIVE,
    OTHER,
    portable,
    read_folded,
    recording,
    summarise,
)
from assessment_bench.report import SCHEMA

ROUTE = "save (assessment_async/blueprints/phq.py)"
QUART = "Quart.handle_request (quart/app.py)"
WORKER = "process:worker;Greenlet.run (gevent/greenlet.py);handle (gunicorn/workers/ggevent.py)"


def test_a_sample_counts_for_the_innermost_frame_of_a_known_layer() -> None:
    stacks = Counter({
        # the route awaiting the driver: database time
        f"run (uvicorn/main.py);{QUART};{ROUTE};Connection.execute (asyncpg/connection.py)": 5,
        # a stdlib helper inside werkzeug: werkzeug's (the framework's) time
        f"run (uvicorn/main.py);{QUART};MapAdapter.match (werkzeug/routing/map.py);"
        "match (re/__init__.py)": 3,
        # the app's metrics module is not "the app"
        f"{QUART};ObservedApp.__call__ (assessment_async/infra/metrics.py)": 1,
        f"{QUART};{ROUTE}": 1,
        "<module> (<frozen runpy>);sleep (time.py)": 1,
        "process:server": 1,
    })
    figures = summarise(stacks, top=2)
    assert figures["samples"] == 12 and figures["waiting_samples"] == 0
    assert figures["layers"] == {"framework": 25.0, "database": 41.7, "metrics and logs": 8.3,
                                 "the app": 8.3, OTHER: 16.7}
    assert figures["hottest"] == [
        {"function": "Connection.execute (asyncpg/connection.py)", "percent": 41.7},
        {"function": "match (re/__init__.py)", "percent": 25.0}]
    assert {"function": NATIVE, "percent": 8.3} in summarise(stacks, top=10)["hottest"]


def test_socket_wrappers_and_shared_protocol_code_count_for_their_caller() -> None:
    stacks = Counter({
        # gunicorn writing a response through gevent's socket: the HTTP server's time, as
        # uvloop's C socket writes count for Uvicorn
        f"{WORKER};Response.write (gunicorn/http/wsgi.py);"
        "SocketMixin.sendall (gevent/_socketcommon.py)": 2,
        # psycopg2 waiting through psycogreen and gevent's hub: the hub's own time
        f"{WORKER};Cursor.execute (psycopg2/extras.py);gevent_wait_callback "
        "(psycogreen/gevent.py);Hub.switch (gevent/hub.py)": 1,
        # the twin's upstream call: requests, however deep in the stdlib it is
        f"{WORKER};stream_chat (assessment_twin/llm_client.py);Session.send (requests/"
        "sessions.py);HTTPConnectionPool.urlopen (urllib3/connectionpool.py);"
        "HTTPConnection.getresponse (http/client.py)": 1,
        # h11 parsing an upstream response for httpcore is upstream time
        "AsyncConnectionPool.handle_async_request (httpcore/_async/connection_pool.py);"
        "Connection.next_event (h11/_connection.py)": 1,
    })
    assert summarise(stacks)["layers"] == {"HTTP server": 40.0, "event loop": 20.0,
                                           "upstream client": 40.0}


def test_threads_waiting_for_work_are_counted_apart() -> None:
    pool = "Thread._bootstrap (threading.py);Thread.run (threading.py)"
    stacks = Counter({
        f"{pool};_worker (concurrent/futures/thread.py)": 30,  # an idle aiofiles thread
        f"{pool};_worker (concurrent/futures/thread.py);_WorkItem.run "
        "(concurrent/futures/thread.py);write (assessment_async/infra/storage.py)": 2,
        f"{pool};_worker (concurrent/futures/thread.py);_WorkItem.run "
        "(concurrent/futures/thread.py)": 1,  # a write in C, on a pool thread
        f"{QUART};{ROUTE}": 1,
        # gevent's resolver threads and gunicorn's master between signals
        "process:server;process:worker;Thread.run (threading.py);"
        "acquire_with_timeout (gevent/_threading.py)": 5,
        "process:server;Arbiter.run (gunicorn/arbiter.py);"
        "Arbiter.wait_for_signals (gunicorn/arbiter.py)": 5,
    })
    figures = summarise(stacks)
    assert figures["samples"] == 4 and figures["waiting_samples"] == 40
    assert figures["layers"] == {"thread pool": 25.0, "files": 50.0, "the app": 25.0}


def test_the_report_schema_knows_every_layer() -> None:
    profile = SCHEMA["properties"]["results"]["items"]["properties"]["profile"]
    names = profile["oneOf"][0]["properties"]["layers"]["propertyNames"]["enum"]
    assert tuple(names) == LAYER_NAMES


def test_folded_stacks_keep_no_machine_paths_ports_or_process_ids() -> None:
    master = 'process {}:"/srv/venv/bin/python /srv/venv/bin/gunicorn -c /srv/app/conf.py"'
    spawned = ('process {}:"/srv/venv/bin/python -c from multiprocessing.spawn import '
               'spawn_main; spawn_main(tracker_fd=5) --bind 127.0.0.1:41955 --say "hi""')
    lines = [f"{master.format(100)};{spawned.format(101)};main (/srv/app/conf/gunicorn_conf.py);"
             "save (x/phq.py) 4",
             f"{master.format(100)};{spawned.format(102)};main (/srv/app/conf/gunicorn_conf.py);"
             "save (x/phq.py) 1",
             f"{master.format(100)};run (gunicorn/arbiter.py) 2",
             "broken line"]
    folded = portable("\n".join(lines))
    assert folded == ("process:server;process:worker;main (gunicorn_conf.py);save (x/phq.py) 5\n"
                      "process:server;run (gunicorn/arbiter.py) 2\n")
    assert portable(folded) == folded  # a report written again leaves them as they are


def test_a_process_py_spy_cannot_read_gives_an_error_not_an_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    scratch = tmp_path / "scratch"  # py-spy's raw file goes here, not among other runs' files
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "profiles" / "gone.folded"
    with recording(2**22 + 12345, out) as profile:  # no such process
        pass
    assert "error" in profile and "file" not in profile, profile
    assert not out.exists()
    assert list(scratch.iterdir()) == []


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
    assert all(stack.startswith("process:server;") for stack in stacks)
    assert any("churn (busy_worker.py)" in stack for stack in stacks)
    assert str(tmp_path) not in out.read_text()


def test_a_failing_scenario_still_stops_py_spy_and_leaves_no_raw_file(tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("*.raw"))
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(ValueError, match="the scenario failed"), \
                recording(idle.pid, tmp_path / "profiles" / "idle.folded"):
            time.sleep(0.3)
            raise ValueError("the scenario failed")
    finally:
        idle.kill()
        idle.wait()
    assert set(Path(tempfile.gettempdir()).glob("*.raw")) == before
    assert not [p for p in subprocess.run(["pgrep", "-f", f"py-spy record --pid {idle.pid}"],
                                          capture_output=True, text=True).stdout.split()]
