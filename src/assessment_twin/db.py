"""One sync SQLAlchemy engine (psycopg2) per worker process, the same pool size as the ASGI app;
the shared statements (assessment_core/sql) run on it in psycopg2's named form."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import psycopg2.extras
from sqlalchemy import Connection, Engine, create_engine

from assessment_core import database
from assessment_core.settings import Settings, driver_url
from assessment_core.sql import Statement

# uuid columns come back as uuid.UUID, as they do from asyncpg.
psycopg2.extras.register_uuid()

CONNECTION_ERRORS = (psycopg2.OperationalError, psycopg2.InterfaceError, OSError)


def make_engine(settings: Settings, database_url: str, pool_size: int | None = None,
                autocommit: bool | None = None) -> Engine:
    """The pool (DB_POOL_SIZE connections, or `pool_size`); in autocommit when the
    TWIN_AUTOCOMMIT lever (or `autocommit`) says so."""
    autocommit = settings.twin_autocommit if autocommit is None else autocommit
    return create_engine(
        driver_url(database_url, "psycopg2"),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"connect_timeout": max(1, int(settings.db_connect_timeout)),
                      "options": "-c timezone=UTC"},
        execution_options={"isolation_level": "AUTOCOMMIT"} if autocommit else {},
    )


def autocommits(engine: Engine) -> bool:
    return bool(engine.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A pooled connection inside one transaction, committed on success. In autocommit
    (TWIN_AUTOCOMMIT) the BEGIN is sent here, as asyncpg sends it for the ASGI app."""
    if not autocommits(engine):
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        except BaseException:
            _end(conn, "ROLLBACK")
            raise
        _end(conn, "COMMIT")


def _end(conn: Connection, statement: str) -> None:
    """COMMIT or ROLLBACK a transaction begun by hand; a connection that could not end it is
    closed, never pooled: psycopg2's own rollback does nothing in autocommit, so it would go
    back to the pool inside the transaction."""
    try:
        conn.exec_driver_sql(statement)
    except BaseException:
        conn.invalidate()
        raise


@contextmanager
def single(engine: Engine) -> Iterator[Connection]:
    """A pooled connection for a statement that stands alone: in a transaction of its own,
    as the plan's services run every call, or in autocommit (TWIN_AUTOCOMMIT), which spares
    the BEGIN and COMMIT round trips."""
    if not autocommits(engine):
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as conn:
        yield conn


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database cannot be reached right now."""
    return database.database_unavailable(error, CONNECTION_ERRORS)


def fetch(conn: Connection, statement: Statement, **values: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.exec_driver_sql(statement.psycopg, values).mappings()]


def fetchrow(conn: Connection, statement: Statement, **values: Any) -> dict[str, Any] | None:
    row = conn.exec_driver_sql(statement.psycopg, values).mappings().first()
    return dict(row) if row is not None else None


def fetchone(conn: Connection, statement: Statement, **values: Any) -> dict[str, Any]:
    """The one row a statement always returns (an INSERT ... RETURNING, say)."""
    row = fetchrow(conn, statement, **values)
    if row is None:
        raise LookupError(f"{statement.name} returned no row")
    return row


def fetchval(conn: Connection, statement: Statement, **values: Any) -> Any:
    return conn.exec_driver_sql(statement.psycopg, values).scalar()


def execute(conn: Connection, statement: Statement, **values: Any) -> int:
    """Run one statement; how many rows it touched."""
    return int(conn.exec_driver_sql(statement.psycopg, values).rowcount)


def executemany(conn: Connection, statement: Statement, rows: Iterable[dict[str, Any]]) -> None:
    conn.exec_driver_sql(statement.psycopg, list(rows))
