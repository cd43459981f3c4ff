"""Alembic environment: runs migrations over the async engine built from the app's Settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from assessment_core.migrate import migration_engine
from assessment_core.tables import metadata

config = context.config


# Replicas that start together migrate once: the first to take this lock holds it until its
# migrations commit (PostgreSQL's DDL is transactional); the others wait on it, then find the
# schema at head and have nothing to do.
MIGRATION_LOCK = 0x6173_7365_7373  # any bigint of our own: "asses" in ASCII


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = migration_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
