"""Where the server's core time goes: py-spy samples of the pinned server while a scenario
runs, kept as folded stacks, and each sample put down to the layer of code it was in.

A sample counts for the innermost frame that belongs to a known layer: Quart calling
`asyncio.wait_for` is event-loop time, a route calling asyncpg is database time, and the
stdlib's helpers (`re`, `typing`, `functools`...) count for whoever called them. Folded stacks
open in speedscope or flamegraph.pl as they are.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
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
    ("event loop", ("asyncio/", "uvloop/", "selectors.py", "gevent/", "greenlet/",
                    "concurrent/", "threading.py", "queue.py")),
    ("HTTP server", ("uvicorn/", "httptools/", "hypercorn/", "h11/", "h2/", "wsproto/",
                     "granian/", "gunicorn/")),
    ("validation", ("quart_schema/", "pydantic/", "pydantic_core/")),
    ("database", ("sqlalchemy/", "asyncpg/", "psycopg2/", "psycogreen/")),
    ("upstream client", ("httpx/", "httpcore/", "aiohttp/", "anyio/", "yarl/", "multidict/")),
    ("files", ("aiofiles/", "shutil.py", "tempfile.py")),
    ("metrics and logs", ("prometheus_client/", "logging/", "pythonjsonlogger/",
                          "assessment_async/metrics.py", "assessment_async/logs.py",
                          "assessment_twin/http.py")),
    ("the app", ("assessment_async/", "assessment_twin/")),
)
OTHER = "other"
NATIVE = "(C code, no Python frame)"
LAYER_NAMES = tuple(name for name, _ in LAYERS) + (OTHER,)
_PREFIXES = sorted(((prefix, name) for name, prefixes in LAYERS for prefix in prefixes),
                   key=lambda pair: -len(pair[0]))
_FILE = re.compile(r"\(([^()]*)\)$")
_ABSOLUTE = re.compile(r"\((/[^()]*/)([^/()]+)\)")
_PROCESS = re.compile(r'(?:^|(?<=;))process \d+:"([^"]*)"')  # a worker's sits under its parent's


def layer_of(frame: str) -> str | None:
    """The layer of one folded frame, `function (package/module.py)`; None: no layer's own."""
    match = _FILE.search(frame)
    if match is None:
        return None
    path = match.group(1)
    for prefix, name in _PREFIXES:
        if path.startswith(prefix):
            return name
    return None


def read_folded(path: Path) -> Counter[str]:
    """Folded stacks (`frame;frame;... count`) and how many samples each got."""
    stacks: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def summarise(stacks: Counter[str], top: int = 8) -> dict[str, Any]:
    """Samples, the share (%) of each layer, and the functions that ran most themselves."""
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        owner = next((name for frame in reversed(frames) if (name := layer_of(frame))), OTHER)
        layers[owner] += count
        # Only the process frame: the sample caught C code with no Python frame above it.
        leaf = NATIVE if frames[-1].startswith("process") else frames[-1]
        leaves[leaf] += count
    total = sum(stacks.values())

    def share(count: int) -> float:
        return round(100 * count / total, 1) if total else 0.0

    return {"samples": total,
            "layers": {name: share(layers[name]) for name in LAYER_NAMES if layers[name]},
            "hottest": [{"function": leaf, "percent": share(count)}
                        for leaf, count in leaves.most_common(top)]}


def portable(text: str) -> str:
    """Folded stacks with no machine paths or process ids, identical stacks merged.

    py-spy roots each stack in `process PID:"command line"`, a worker's under its parent's (it
    follows a server's workers), and names a file outside every package by its full path:
    both keep only what names them.
    """
    stacks: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not (stack and count.isdigit()):
            continue
        stack = _PROCESS.sub(lambda m: "process:" + " ".join(
            Path(word).name if word.startswith("/") else word for word in m.group(1).split()),
            stack)
        stacks[_ABSOLUTE.sub(lambda m: f"({m.group(2)})", stack)] += int(count)
    return "".join(f"{stack} {count}\n" for stack, count in stacks.most_common())


@contextmanager
def recording(pid: int, out: Path, prefix: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Sample the process tree of `pid` until the block ends; then write `out` (folded
    stacks) and fill the yielded dict with `summarise`'s figures and the file's path from the
    run's folder (or `error`, if py-spy wrote nothing).

    py-spy pauses the server for each sample (about 0.1 ms, 100 times a second); the
    non-blocking mode costs less but tears stacks apart under load.
    """
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, when it is not on PATH
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        raise RuntimeError("py-spy is not installed (it is a dev dependency: bin/setup)")
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".raw")
    process = subprocess.Popen(
        [*prefix, spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw",
         "--nolineno", "--rate", str(RATE), "--output", str(raw)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    figures: dict[str, Any] = {}
    try:
        yield figures
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C, not SIGTERM
        try:
            _, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
    if not raw.exists():  # the scenario's own figures still count
        figures["error"] = f"py-spy wrote no profile: {err.decode(errors='replace')[-300:]}"
        return
    out.write_text(portable(raw.read_text()))
    raw.unlink()
    figures |= summarise(read_folded(out)) | {"file": f"{out.parent.name}/{out.name}"}
