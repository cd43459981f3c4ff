"""The core is framework-free: it imports neither app, no web framework, no driver."""

from __future__ import annotations

import pkgutil

import assessment_core
from tests.twin.test_imports import modules_after

FRAMEWORKS_AND_DRIVERS = ("quart", "flask", "gunicorn", "gevent", "hypercorn", "uvicorn",
                          "asyncpg", "psycopg2", "psycopg", "httpx", "requests",
                          "assessment_async", "assessment_twin", "assessment_bench")


def test_every_core_module_imports_without_either_app_or_a_driver() -> None:
    names = [f"assessment_core.{m.name}" for m in pkgutil.walk_packages(assessment_core.__path__)
             if m.name != "migrate" and not m.name.startswith("migrations")]
    assert "assessment_core.sql" in names and "assessment_core.chat" in names
    modules = modules_after("\n".join(f"import {name}" for name in names))
    assert sorted(m for m in modules if m.split(".")[0] in FRAMEWORKS_AND_DRIVERS) == []
