"""The database lifecycle: one SQLAlchemy async engine (the pool) per app, made while serving.

Services run their SQL on the asyncpg connection under a pooled SQLAlchemy connection: the
pool brings checkout, reset and invalidation after a server restart; asyncpg brings prepared
statements and one round trip per statement. `shared/design.md` measured the ORM and text()
layers at 60% of this path's throughput, so the services do not use them: they run the shared
statements (assessment_core/sql) through fetch, fetchrow, fetchval, execute and executemany.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from asyncpg import Connection, Record
from quart import current_app
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from assessment_async.infra.metrics import POOL_IN_USE, POOL_SIZE
from assessment_core import database
from assessment_core.settings import Settings, driver_url
from assessment_core.sql import SQL, Statement

log = logging.getLogger(__name__)


class Database:
    def __init__(self, settings: Settings, database_url: str,
                 pool_size: int | None = None) -> None:
        pool_size = pool_size or settings.db_pool_size
        self.engine: AsyncEngine = database.asyncpg_engine(
            driver_url(database_url, "asyncpg"), settings.db_statement_cache_size,
            connect_args={"timeout": settings.db_connect_timeout},
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=settings.db_pool_timeout,
        )
        event.listen(self.engine.sync_engine, "checkout", _discard_closed)
        POOL_SIZE.inc(pool_size)
        self._pool_size = pool_size
        event.listen(self.engine.sync_engine, "checkout", lambda *_: POOL_IN_USE.inc())
        event.listen(self.engine.sync_engine, "checkin", lambda *_: POOL_IN_USE.dec())

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled asyncpg connection for one task; returned to the pool on exit.

        A task cancelled while it holds one (its client went away mid-request) may have
        cut a statement off, inside a transaction even, and asyncpg's ROLLBACK cannot run
        while the cut statement is still in flight: such a connection is closed, never
        handed to the next request (PostgreSQL rolls back what it had begun).
        """
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                yield raw.driver_connection
            except asyncio.CancelledError:
                await conn.invalidate()
                raise

    async def ping(self) -> None:
        async with self.connection() as conn:
            await fetchval(conn, SQL.ping)

    async def dispose(self) -> None:
        await self.engine.dispose()
        POOL_SIZE.dec(self._pool_size)


def _discard_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Replace a pooled connection the server has closed (a restart, an admin's kill), or
    one that came back still inside a transaction.

    Services use the asyncpg connection directly, so SQLAlchemy never sees their errors or
    their transactions: it would hand a dead connection out again forever, and its reset on
    return rolls back only transactions it began itself. A connection returned inside a
    transaction (a request cut off between BEGIN and its end) would make every statement of
    its next user fail with "current transaction is aborted", request after request: seen
    under the bench's overload steps. asyncpg knows both at no cost (the socket, and the
    transaction status of the last ReadyForQuery); pool_pre_ping would spend a round trip on
    every checkout. Discarding the connection closes it, and PostgreSQL rolls back.
    """
    connection = dbapi_connection.driver_connection
    if connection.is_closed():
        raise sa_exc.DisconnectionError("the server closed this connection")
    if connection.is_in_transaction():
        log.error("a pooled connection came back inside a transaction; discarding it")
        raise sa_exc.DisconnectionError("the connection was left inside a transaction")


def get_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db


CONNECTION_ERRORS = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # connect timeout
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,  # terminated by a restart
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,  # the connection closed under us
    # The server's "terminating connection" arrived while the connection sat in the pool and
    # the close has not been seen yet: the next query finds the protocol mid-error.
    asyncpg.InternalClientError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database cannot be reached right now."""
    return database.database_unavailable(error, CONNECTION_ERRORS)


# The shared statements (assessment_core/sql) on asyncpg:
#     await fetch(conn, SQL.select_turns, session_id=sid)
async def fetch(conn: Connection, statement: Statement, **values: Any) -> list[Record]:
    return await conn.fetch(statement.asyncpg, *statement.args(**values))


async def fetchrow(conn: Connection, statement: Statement, **values: Any) -> Record | None:
    return await conn.fetchrow(statement.asyncpg, *statement.args(**values))


async def fetchone(conn: Connection, statement: Statement, **values: Any) -> Record:
    """The one row a statement always returns (an INSERT ... RETURNING, say)."""
    row = await fetchrow(conn, statement, **values)
    if row is None:
        raise LookupError(f"{statement.name} returned no row")
    return row


async def fetchval(conn: Connection, statement: Statement, **values: Any) -> Any:
    return await conn.fetchval(statement.asyncpg, *statement.args(**values))


async def execute(conn: Connection, statement: Statement, **values: Any) -> int:
    """Run one statement; how many rows it touched."""
    status: str = await conn.execute(statement.asyncpg, *statement.args(**values))
    return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0


async def executemany(conn: Connection, statement: Statement,
                      rows: Iterable[dict[str, Any]]) -> None:
    await conn.executemany(statement.asyncpg, [statement.args(**row) for row in rows])
