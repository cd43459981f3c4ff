"""Objects in storage that no capture row names. A batch's rows are written only after all
its frames are stored, and a refused batch deletes its objects; a process killed between the
two leaves objects without rows, never a row without its object. `assessment-async storage
sweep` lists them, and with --delete removes them.

Only objects older than a cutoff count: an upload in flight has stored frames whose rows are
moments away (UPLOAD_TIMEOUT bounds how long), and they must not be taken for orphans.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from asyncpg import Connection

from assessment_async.infra.db import fetch
from assessment_async.infra.storage import Storage
from assessment_core.sql import SQL

KEYS_PER_QUERY = 1000


async def find_orphans(storage: Storage, conn: Connection, older_than: timedelta,
                       now: datetime | None = None) -> list[str]:
    """The keys of stored objects older than `older_than` that no capture row names."""
    cutoff = (now or datetime.now(UTC)) - older_than
    candidates = [key async for key, modified in storage.stored() if modified < cutoff]
    named: set[str] = set()
    for start in range(0, len(candidates), KEYS_PER_QUERY):
        rows = await fetch(conn, SQL.select_stored_keys,
                           keys=candidates[start:start + KEYS_PER_QUERY])
        named |= {row["storage_key"] for row in rows}
    return [key for key in candidates if key not in named]


async def sweep(storage: Storage, conn: Connection, older_than: timedelta,
                delete: bool) -> list[str]:
    """The orphans; deleted when `delete` says so."""
    orphans = await find_orphans(storage, conn, older_than)
    if delete:
        for key in orphans:
            await storage.delete(key)
    return orphans
