"""Where the server's core time goes: py-spy samples of the pinned server while a scenario
runs, kept as folded stacks, and each sample put down to the layer of code it was in.

A sample counts for the innermost frame that belongs to a layer: Quart calling
`asyncio.wait_for` is event-loop time, a route calling asyncpg is database time. The stdlib's
helpers (`re`, `typing`, `functools`...), gevent's socket wrappers and libraries that serve
several layers (h11, anyio) count for whoever called them. A thread waiting for work is not
working: its samples are counted apart. Folded stacks open in speedscope or flamegraph.pl.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

RATE = 100  # samples per second: enough for shares of a few percent over a scenario

# (layer, where its code lives), a path prefix as py-spy prints it (package part only). The
# longest matching prefix wins, so the app's metrics module is not "the app".
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("framework", ("quart/", "flask/", "werkzeug/", "blinker/", "jinja2/", "itsdangerous/")),
    ("event loop", ("asyncio/", "uvloop/", "selectors.py", "gevent/", "greenlet/")),
    ("thread pool", ("concurrent/", "threading.py", "queue.py")),
    ("HTTP server", ("uvicorn/", "httptools/", "hypercorn/", "wsproto/", "granian/",
                     "gunicorn/")),
    ("validation", ("quart_schema/", "pydantic/", "pydantic_core/")),
    ("database", ("sqlalchemy/", "asyncpg/", "psycopg2/", "psycogreen/")),
    ("upstream client", ("httpx/", "httpcore/", "aiohttp/", "yarl/", "multidict/",
                         "requests/", "urllib3/", "http/client.py")),
    ("files", ("aiofiles/", "shutil.py", "tempfile.py", "assessment_async/infra/storage.py",
               "assessment_twin/storage.py")),
    ("metrics and logs", ("prometheus_client/", "logging/", "pythonjsonlogger/",
                          "assessment_async/infra/metrics.py", "assessment_async/infra/logs.py")),
    ("the app", ("assessment_async/", "assessment_twin/", "assessment_core/")),
)
# Code that works for whoever calls it: gevent's cooperative sockets (the asyncio servers do
# the same in C, counted for the caller), and protocol libraries both servers and clients use.
FOR_THE_CALLER = ("gevent/_socket", "gevent/socket.py", "gevent/ssl.py", "gevent/os.py",
                  "gevent/_fileobject", "h11/", "h2/", "anyio/")
# The innermost frame of a thread blocked waiting (for work, a lock, a signal), not working.
# py-spy reads a thread's state from the kernel, and stopping a process to sample it can
# leave a blocked thread looking runnable: these samples are counted apart.
WAITING = ("_worker (concurrent/futures/thread.py)", "get (queue.py)",
           "Condition.wait (threading.py)", "Event.wait (threading.py)",
           "Thread._wait_for_tstate_lock (threading.py)", "Thread.join (threading.py)",
           "acquire_with_timeout (gevent/_threading.py)",  # gevent's idle pool threads
           "Arbiter.wait_for_signals (gunicorn/arbiter.py)", "Arbiter.sleep (gunicorn/arbiter.py)")
OTHER = "other"
NATIVE = "(C code, no Python frame)"
LAYER_NAMES = tuple(name for name, _ in LAYERS) + (OTHER,)
_PREFIXES = sorted([(prefix, name) for name, prefixes in LAYERS for prefix in prefixes]
                   + [(prefix, None) for prefix in FOR_THE_CALLER],
                   key=lambda pair: -len(pair[0]))
_FILE = re.compile(r"\(([^()]*)\)$")
_ABSOLUTE = re.compile(r"\((/[^()]*/)([^/()]+)\)")
# py-spy's process frame: `process 123:"command line"` (a command line may hold `;` or `"`).
_PROCESS = re.compile(r'(?:^|(?<=;))process \d+:".*?"(?=;|$)')
PROCESS = "process:"


def layer_of(frame: str) -> str | None:
    """The layer of one folded frame, `function (package/module.py)`; None: no layer's own."""
    match = _FILE.search(frame)
    if match is None:
        return None
    path = match.group(1)
    return next((name for prefix, name in _PREFIXES if path.startswith(prefix)), None)


def parse_folded(text: str) -> Counter[str]:
    """Folded stacks (`frame;frame;... count`) and how many samples each got."""
    stacks: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def read_folded(path: Path) -> Counter[str]:
    return parse_folded(path.read_text(encoding="utf-8", errors="replace"))


def save_portable(text: str, out: Path) -> dict[str, Any]:
    """Write these folded stacks to `out` made portable; `summarise`'s figures of them."""
    folded = portable(text)
    out.write_text(folded)
    return summarise(parse_folded(folded))


def summarise(stacks: Counter[str], top: int = 8) -> dict[str, Any]:
    """Samples of working threads, the share (%) of each layer in them, the functions that
    ran most themselves, and how many samples caught a thread waiting for work."""
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    waiting = 0
    for stack, count in stacks.items():
        frames = stack.split(";")
        if frames[-1] in WAITING:
            waiting += count
            continue
        owner = next((name for frame in reversed(frames) if (name := layer_of(frame))), OTHER)
        layers[owner] += count
        # Only the process frame: the sample caught C code with no Python frame above it.
        leaves[NATIVE if frames[-1].startswith(PROCESS) else frames[-1]] += count
    total = sum(layers.values())

    def share(count: int) -> float:
        return round(100 * count / total, 1) if total else 0.0

    return {"samples": total, "waiting_samples": waiting,
            "layers": {name: share(layers[name]) for name in LAYER_NAMES if layers[name]},
            "hottest": [{"function": leaf, "percent": share(count)}
                        for leaf, count in leaves.most_common(top)]}


def portable(text: str) -> str:
    """Folded stacks with no machine paths, ports or process ids; identical stacks merged.

    py-spy roots each stack in `process PID:"command line"`, a worker's under its parent's
    (it follows a server's workers): they become `process:server` and `process:worker` (the
    variant's command is in the report). A file outside every package, which py-spy names by
    its full path, keeps its name only. Stacks already made portable pass unchanged.
    """
    stacks: Counter[str] = Counter()
    for stack, count in parse_folded(text).items():
        frames = _PROCESS.sub(PROCESS, stack).split(";")
        depth = 0
        for index, frame in enumerate(frames):
            if frame.startswith(PROCESS):
                frames[index] = PROCESS + ("server" if depth == 0 else "worker")
                depth += 1
        stacks[_ABSOLUTE.sub(lambda m: f"({m.group(2)})", ";".join(frames))] += count
    return "".join(f"{stack} {count}\n" for stack, count in stacks.most_common())


def py_spy() -> str:
    """py-spy's path: the venv's, beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("py-spy is not installed (it is a dev dependency: bin/setup)")
    return spy


def check_can_profile() -> None:
    """RuntimeError, in words a person can act on, if py-spy cannot read this machine's
    processes (it needs root, or ptrace rights: kernel.yama.ptrace_scope 0 or CAP_SYS_PTRACE)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        result = subprocess.run([py_spy(), "dump", "--pid", str(child.pid)],
                                capture_output=True, text=True, timeout=30)
    finally:
        child.kill()
        child.wait()
    if result.returncode != 0:
        raise RuntimeError("py-spy cannot read a process here (run as root, or allow ptrace): "
                           + (result.stderr or result.stdout).strip()[-300:])


@contextmanager
def recording(pid: int, out: Path, prefix: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Sample the process tree of `pid` until the block ends; then write `out` (portable
    folded stacks) and fill the yielded dict with `summarise`'s figures and the file's path
    from the run's folder. Whatever goes wrong with py-spy goes into `error`, never into the
    scenario: its figures count without a profile. py-spy stops the server's threads for each
    sample (the non-blocking mode costs less, but tears stacks apart under load).
    """
    figures: dict[str, Any] = {}
    handle, raw_name = tempfile.mkstemp(suffix=".raw")  # py-spy's own file keeps machine paths
    os.close(handle)
    raw = Path(raw_name)
    try:
        process = subprocess.Popen(
            [*prefix, py_spy(), "record", "--pid", str(pid), "--subprocesses", "--format",
             "raw", "--nolineno", "--rate", str(RATE), "--output", str(raw)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, RuntimeError) as error:
        raw.unlink()
        figures["error"] = f"py-spy did not start: {error}"
        yield figures
        return
    try:
        yield figures
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C, not SIGTERM
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        try:
            text = raw.read_text(encoding="utf-8", errors="replace")
            if text.strip():
                out.parent.mkdir(parents=True, exist_ok=True)
                figures |= save_portable(text, out)
                figures["file"] = f"{out.parent.name}/{out.name}"
            else:
                figures["error"] = ("py-spy recorded nothing: "
                                    + err.decode(errors="replace").strip()[-300:])
        except (OSError, ValueError) as error:
            figures["error"] = f"the profile could not be written: {error}"
        finally:
            raw.unlink(missing_ok=True)
