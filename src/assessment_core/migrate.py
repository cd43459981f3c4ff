"""Apply and inspect Alembic migrations from code (the CLI, `serve` and the tests use this)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from assessment_core.database import asyncpg_engine
from assessment_core.settings import driver_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def migration_engine(sqlalchemy_url: str) -> AsyncEngine:
    """An engine for the few statements of a migration or a schema check: no statement
    cache, so that it is safe behind PgBouncer in transaction mode as well."""
    return asyncpg_engine(sqlalchemy_url, statement_cache_size=0)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Alembic's ini parser treats % as interpolation; passwords may contain it.
    config.set_main_option("sqlalchemy.url", driver_url(database_url, "asyncpg").replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (blocking; call before the event loop starts)."""
    command.upgrade(alembic_config(database_url), revision)


def pending(database_url: str) -> list[str]:
    """Revisions not yet applied to the database, oldest first."""
    script = ScriptDirectory.from_config(alembic_config(database_url))
    current = asyncio.run(_current_heads(database_url))
    return [
        rev.revision
        for rev in reversed(list(script.walk_revisions("base", "heads")))
        if not _applied(script, rev.revision, current)
    ]


def _applied(script: ScriptDirectory, revision: str, heads: set[str]) -> bool:
    return any(revision == head or revision in _ancestors(script, head) for head in heads)


def _ancestors(script: ScriptDirectory, head: str) -> set[str]:
    return {rev.revision for rev in script.iterate_revisions(head, "base")}


async def _current_heads(database_url: str) -> set[str]:
    engine = migration_engine(driver_url(database_url, "asyncpg"))
    try:
        async with engine.connect() as conn:
            heads = await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_heads()
            )
    finally:
        await engine.dispose()
    return set(heads)
