"""What "the database is unavailable" means, whichever driver is underneath: the error, or
one that caused it, is one of the driver's connection errors (each app names its own), or
SQLAlchemy's pool found the connection dead and invalidated it."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

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
