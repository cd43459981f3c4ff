"""Which failures mean the database is unreachable (503) rather than a bug (500)."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from assessment_async.infra.db import Database, database_unavailable
from assessment_core.settings import Settings


def test_a_connection_the_server_is_terminating_counts_as_unavailable() -> None:
    error = asyncpg.InternalClientError("cannot switch to state 12; another operation (2) "
                                        "is in progress")
    assert database_unavailable(error)


def test_the_cause_chain_is_followed() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as refused:
            raise RuntimeError("checkout failed") from refused
    except RuntimeError as error:
        assert database_unavailable(error)


def test_a_plain_bug_is_not_an_outage() -> None:
    assert not database_unavailable(ValueError("bad value"))
    assert not database_unavailable(asyncpg.UniqueViolationError("duplicate key"))


async def test_a_connection_returned_inside_a_transaction_is_never_handed_out_again(
    settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    """A request cut off between BEGIN and its end must not poison the next user."""
    db = Database(settings, settings.database_url or "", pool_size=1)
    try:
        async with db.connection() as conn:
            await conn.execute("BEGIN")
            await conn.execute("SELECT 1")
            left = conn
        with caplog.at_level(logging.ERROR, logger="assessment_async.infra.db"):
            async with db.connection() as conn:
                assert not conn.is_in_transaction()
                assert conn is not left
                assert await conn.fetchval("SELECT 2") == 2
        assert "came back inside a transaction" in caplog.text
    finally:
        await db.dispose()


async def test_a_request_cancelled_mid_transaction_leaves_no_connection_behind_in_it(
    settings: Settings,
) -> None:
    """A client that leaves while its submit's transaction runs: the next request gets a
    connection outside any transaction, and the cut-off one is closed."""
    db = Database(settings, settings.database_url or "", pool_size=1)
    started = asyncio.Event()
    pids: list[int] = []

    async def submit_like() -> None:
        async with db.connection() as conn:
            pids.append(conn.get_server_pid())
            async with conn.transaction():
                await conn.execute("SELECT 1")
                started.set()
                await conn.execute("SELECT pg_sleep(5)")  # cut off here

    try:
        task = asyncio.create_task(submit_like())
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with asyncio.timeout(10), db.connection() as conn:
            assert not conn.is_in_transaction()
            assert conn.get_server_pid() != pids[0]
            assert await conn.fetchval("SELECT 2") == 2
    finally:
        await db.dispose()
