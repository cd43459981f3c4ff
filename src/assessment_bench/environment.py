"""What the report says about where it ran: CPU, cores, versions, git sha, pinning."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

# The lock bin/setup installs from (bin/lock refreshes it); absent in an installed copy.
LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"

PACKAGES = ("quart", "hypercorn", "uvicorn", "granian", "sqlalchemy", "asyncpg", "httpx",
            "httpx-aiohttp", "aiohttp", "flask", "gunicorn", "gevent", "psycogreen",
            "psycopg2-binary", "requests", "uvloop", "orjson", "locust")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_sha() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True,
                               cwd=Path(__file__).parent).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        found["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True,
                                      text=True).stdout.split()[1]
    except (OSError, IndexError):
        pass
    return found


def distributions() -> dict[str, str]:
    """Every installed distribution and its version, by normalised name: what a rerun needs."""
    found = {dist.metadata["Name"].lower().replace("_", "-"): dist.version
             for dist in metadata.distributions() if dist.metadata["Name"]}
    return dict(sorted(found.items()))


def lock_sha256() -> str | None:
    try:
        return hashlib.sha256(LOCK.read_bytes()).hexdigest()
    except OSError:
        return None


def describe(server_cores: str, other_cores: str, postgres_version: str) -> dict[str, object]:
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "git_sha": git_sha(),
        "pinning": {"server": server_cores, "postgres, fake LLM, load generators": other_cores},
        "postgres": postgres_version,
        "versions": versions(),
        "distributions": distributions(),
        "lock_sha256": lock_sha256(),
    }
