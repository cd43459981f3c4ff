"""Fixtures: one real PostgreSQL per test run, the app with its lifespan, a fresh session.

With TEST_DATABASE_URL set, the tests use that server (its database is emptied); otherwise
they start the embedded PostgreSQL and use a database of their own, made anew each run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
import uvicorn
from quart import Quart
from quart.typing import TestClientProtocol as Client

from assessment_async.app import create_app
from assessment_core import migrate
from assessment_core.settings import Settings
from assessment_dev.embedded_db import EmbeddedPostgres
from assessment_dev.fake_llm.launch import running_fake_llm
from assessment_dev.ports import free_port

# TEST_DATABASE_NAME lets two test runs share one embedded cluster without clobbering.
TEST_DATABASE = os.environ.get("TEST_DATABASE_NAME", "assessment_test")
FRONTEND = "https://frontend.example"


@pytest.fixture(name="database_url", scope="session")
def _database_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    server = None
    if url is None:
        data_dir = Path(os.environ.get("DATA_DIR", ".data"))
        server = EmbeddedPostgres(data_dir, int(os.environ.get("EMBEDDED_PG_PORT", "54329")))
        server.start()
        url = server.ensure_database(TEST_DATABASE, fresh=True)
    migrate.upgrade(url)
    yield url
    if server is not None and server.started_here:
        server.stop()


# Fast answers for tests: 12 tokens, the first after 10 ms, then one every 2 ms.
FAKE_LLM_FLAGS = ("--ttft", "0.01", "--tokens", "12", "--gap", "0.002", "--seed", "7")


@pytest.fixture(name="fake_llm_url", scope="session")
def _fake_llm_url() -> Iterator[str]:
    """The fake LLM as a real server in its own process, for the whole run."""
    with running_fake_llm(*FAKE_LLM_FLAGS) as url:
        yield url


@pytest.fixture(name="settings")
def _settings(database_url: str, fake_llm_url: str, tmp_path: Path) -> Settings:
    # Chat admission off in the apps these tests run in their own process: the test's code
    # shares the app's loop, and a machine busy with other tests can hold that loop back for
    # a while, which admission rightly reads as a full worker. Its own tests turn it on
    # (blueprints/test_chat.py, twin/test_admission.py); the servers the contract, browser,
    # topology and fault suites start keep the default.
    return Settings(database_url=database_url, llm_base_url=fake_llm_url,
                    cors_origins=[FRONTEND], capture_dir=tmp_path / "captures",
                    chat_admit_lag_ms=0)


@asynccontextmanager
async def serving(settings: Settings, **overrides: Any) -> AsyncIterator[Quart]:
    """The app with its lifespan running, built from settings with `overrides` applied."""
    app = create_app(settings.model_copy(update=overrides))
    async with app.test_app():
        yield app
    await truncate_sessions(settings)


@asynccontextmanager
async def serving_http(settings: Settings, **overrides: Any) -> AsyncIterator[str]:
    """The app behind Uvicorn (the default server) on a loopback port, in this event loop;
    yields its base URL.

    Quart's test client skips the ASGI layer; this goes through it, as production does.
    """
    app = create_app(settings.model_copy(update=overrides))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http="httptools",
                                           ws="none", access_log=False, log_config=None))
    task = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as probe:
            for _ in range(200):
                try:
                    if (await probe.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        await task
        await truncate_sessions(settings)


async def truncate_sessions(settings: Settings) -> None:
    await empty_sessions(str(settings.database_url))


async def empty_sessions(database_url: str) -> None:
    """Every session and what hangs off it gone: the next test starts from none."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("TRUNCATE sessions CASCADE")
    finally:
        await conn.close()


@pytest.fixture(name="app")
async def _app(settings: Settings) -> AsyncIterator[Quart]:
    async with serving(settings) as app:
        yield app


@pytest.fixture(name="client")
def _client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture(name="conn")
async def _conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection for service tests, with the app's jsonb codec."""
    conn = await asyncpg.connect(database_url)
    await conn.set_type_codec("jsonb", encoder=str, decoder=json.loads,
                              schema="pg_catalog")
    try:
        yield conn
    finally:
        await conn.execute("TRUNCATE sessions CASCADE")
        await conn.close()


@dataclass
class Participant:
    session_id: UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, path: str = "") -> str:
        return f"/api/sessions/{self.session_id}{path}"


async def new_participant(client: Client) -> Participant:
    response = await client.post("/api/sessions", json={})
    assert response.status_code == 201
    body = await response.get_json()
    return Participant(UUID(body["session_id"]), body["token"])


@pytest.fixture(name="participant")
async def _participant(client: Client) -> Participant:
    return await new_participant(client)
