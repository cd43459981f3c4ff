"""One sync SQLAlchemy engine (psycopg2) per worker process, the same pool size as the ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import psycopg2.extras
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy import exc as sa_exc

from assessment_core.settings import Settings, driver_url

# uuid columns come back as uuid.UUID, as they do from asyncpg.
psycopg2.extras.register_uuid()


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


_UNAVAILABLE = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    sa_exc.TimeoutError,  # every pooled connection busy for pool_timeout
    OSError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database cannot be reached right now."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, _UNAVAILABLE) and not isinstance(seen, sa_exc.StatementError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
