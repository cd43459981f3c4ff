"""What "the database is unavailable" means, whichever driver is underneath: the error, or
one that caused it, is one of the driver's connection errors (each app names its own), or
SQLAlchemy's pool found the connection dead and invalidated it. And the one way an asyncpg
engine is made (the ASGI app's pools, the migrations), with or without a statement cache."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# Every pooled connection stayed busy for DB_POOL_TIMEOUT: for the client, the same as down.
POOL_EXHAUSTED = sa_exc.TimeoutError


def database_unavailable(error: BaseException,
                         connection_errors: tuple[type[BaseException], ...]) -> bool:
    """Whether `error` (or what caused it) means the database cannot be reached right now."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, (*connection_errors, POOL_EXHAUSTED)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def asyncpg_engine(sqlalchemy_url: str, statement_cache_size: int,
                   connect_args: dict[str, Any] | None = None, **engine: Any) -> AsyncEngine:
    """An asyncpg engine keeping `statement_cache_size` prepared statements per connection,
    in asyncpg and in SQLAlchemy's own cache (a setting of the URL). With 0 (behind PgBouncer
    in transaction mode), what SQLAlchemy still prepares itself (its dialect's first queries)
    is named uniquely: asyncpg numbers statements per connection, and two connections sharing
    a backend would both make `__asyncpg_stmt_1__` there. Statements run straight on asyncpg
    are unnamed then."""
    # Imported here: the twin imports this module, and nothing of the asyncio stack.
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(sqlalchemy_url).update_query_dict(
        {"prepared_statement_cache_size": str(statement_cache_size)})
    args = dict(connect_args or {}, statement_cache_size=statement_cache_size)
    if statement_cache_size == 0:
        args["prepared_statement_name_func"] = unique_statement_name
    return create_async_engine(url, connect_args=args, **engine)


def unique_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"
