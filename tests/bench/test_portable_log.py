"""A kept server log names no path of the machine it ran on, in plain or JSON lines."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from assessment_bench.runner import portable_log

# This machine's own places, as a server's traceback would name them.
PLACES = (sys.prefix, str(Path(__file__).resolve().parents[2]), tempfile.gettempdir())


def test_paths_are_cut_in_plain_and_json_tracebacks() -> None:
    venv, clone, temp = PLACES
    plain = (f'  File "{venv}/lib/python3.11/site-packages/quart/app.py", line 1\n'
             f'  File "{clone}/src/assessment_async/app.py", line 2\n'
             f"OSError: {temp}/assessment-bench-1/captures/a.png")
    line = json.dumps({"message": "Exception", "exc_info": plain})
    for text in (plain, line):
        kept = portable_log(text)
        assert "quart/app.py" in kept and "assessment_async/app.py" in kept
        for place in PLACES:
            assert place + "/" not in kept, kept
