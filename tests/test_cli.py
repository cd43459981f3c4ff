"""The command line over real processes: serve on loopback, and the migration guard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from alembic import command

from assessment_core import migrate
from assessment_core.migrate import alembic_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(*args: str, database_url: str, **kwargs: object) -> subprocess.Popen[str]:
    env = os.environ | {"DATABASE_URL": database_url, "LOG_LEVEL": "INFO"}
    return subprocess.Popen([sys.executable, "-m", "assessment_async.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(name="empty_database_url")
async def _empty_database_url(database_url: str) -> AsyncIterator[str]:
    """A second, empty database on the same server, dropped afterwards."""
    name = "assessment_cli_test"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield database_url.rsplit("/", 1)[0] + f"/{name}"
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def test_serve_answers_over_http(database_url: str) -> None:
    port = free_port()
    process = cli("serve", "--port", str(port), database_url=database_url)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "server did not become ready in 30 s"
            time.sleep(0.2)
        created = httpx.post(f"{base}/api/sessions", json={}).json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        saved = httpx.put(f"{base}/api/sessions/{created['session_id']}/phq/responses/1",
                          json={"answer": 2}, headers=headers)
        assert (saved.status_code, saved.json()["answer"]) == (200, 2)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output


def test_serve_without_migrations_says_what_to_run(empty_database_url: str) -> None:
    process = cli("serve", "--no-migrate", "--port", str(free_port()),
                  database_url=empty_database_url)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "assessment-async db upgrade" in output

    status = cli("db", "status", database_url=empty_database_url)
    assert "pending: 0001" in status.communicate(timeout=60)[0]
    assert status.returncode == 1

    upgrade = cli("db", "upgrade", database_url=empty_database_url)
    upgrade.communicate(timeout=60)
    assert upgrade.returncode == 0
    assert migrate.pending(empty_database_url) == []


def test_migrations_match_the_tables(database_url: str) -> None:
    """`alembic check` fails when tables.py and the migrations disagree."""
    command.check(alembic_config(database_url))


def test_replicas_starting_together_migrate_once(empty_database_url: str) -> None:
    """Four `db upgrade`s at once on an empty database (as replicas starting together run
    `serve`): the advisory lock lets one migrate while the others wait, then find nothing to
    do. Without it, the second CREATE TABLE of the same table fails."""
    upgrades = [cli("db", "upgrade", database_url=empty_database_url) for _ in range(4)]
    outputs = [process.communicate(timeout=120)[0] for process in upgrades]
    assert [p.returncode for p in upgrades] == [0, 0, 0, 0], outputs
    ran = [output.count("Running upgrade  -> 0001") for output in outputs]
    assert sorted(ran) == [0, 0, 0, 1], outputs  # exactly one replica created the schema
    assert migrate.pending(empty_database_url) == []
