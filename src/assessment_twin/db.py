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


def make_engine(settings: Settings, database_url: str) -> Engine:
    return create_engine(
        driver_url(database_url, "psycopg2"),
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout,
        connect_args={"connect_timeout": max(1, int(settings.db_connect_timeout)),
                      "options": "-c timezone=UTC"},
    )


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """A pooled connection inside one transaction, committed on success."""
    with engine.begin() as conn:
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
