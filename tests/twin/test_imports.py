"""The twin runs on its own stack: importing it loads nothing of the asyncio stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ASYNCIO_STACK = ("quart", "quart_schema", "hypercorn", "uvicorn", "uvloop", "asyncpg",
                 "httpx", "aiohttp", "aiofiles", "assessment_async")


def modules_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running `statement`."""
    script = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    env = os.environ | {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
                        "LLM_BASE_URL": "http://127.0.0.1:1/v1"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=60, check=True)
    return set(json.loads(result.stdout))


def from_the_asyncio_stack(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in ASYNCIO_STACK
                  or m.startswith("sqlalchemy.ext.asyncio"))


def test_a_gunicorn_worker_loads_no_quart_asyncpg_or_sqlalchemy_asyncio() -> None:
    # What a worker imports: the config, the WSGI app (built), and phase 2's wrappers.
    modules = modules_after("import assessment_twin.gunicorn_conf, assessment_twin.wsgi, "
                            "assessment_twin.phase2")
    assert "flask" in modules and "assessment_twin.app" in modules  # it did load the twin
    assert from_the_asyncio_stack(modules) == []
