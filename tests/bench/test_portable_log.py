"""A kept server log names no path of the machine it ran on, in plain or JSON lines."""

from __future__ import annotations

import json

from assessment_bench.runner import portable_log


def test_paths_are_cut_in_plain_and_json_tracebacks() -> None:
    plain = ('  File "/work/x/.venv/lib/python3.11/site-packages/quart/app.py", line 1\n'
             '  File "/home/me/clone/src/assessment_async/app.py", line 2\n'
             "OSError: /tmp/assessment-bench-1/captures/a.png")
    line = json.dumps({"message": "Exception", "exc_info": plain})
    for text in (plain, line):
        kept = portable_log(text)
        assert "quart/app.py" in kept and "assessment_async/app.py" in kept
        for root in ("/work/", "/home/", "/tmp/"):
            assert root not in kept, kept
