"""Capture batches and frames: every statement the capture routes run."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

from asyncpg import Record

from assessment_async.infra.db import Connection, execute, executemany, fetch, fetchrow, fetchval
from assessment_core.captures import StoredFrame, frame_rows
from assessment_core.sql import SQL


async def select_assessment_instrument(conn: Connection, session_id: UUID,
                                       assessment_id: UUID) -> str | None:
    """The instrument of one of this session's assessments, or None if it has no such one."""
    instrument: str | None = await fetchval(conn, SQL.select_assessment_instrument,
                                            assessment_id=assessment_id, session_id=session_id)
    return instrument


async def insert_batch(
    conn: Connection, session_id: UUID, capture_type: str, assessment_id: UUID | None,
    assessment_type: str | None, frames: Sequence[StoredFrame],
) -> UUID:
    """One batch and all its frames, in one transaction: all rows or none."""
    batch_id = uuid4()
    async with conn.transaction():
        await execute(conn, SQL.insert_batch, id=batch_id, session_id=session_id,
                      capture_type=capture_type, assessment_id=assessment_id)
        await executemany(conn, SQL.insert_capture,
                          frame_rows(batch_id, session_id, capture_type, assessment_id,
                                     assessment_type, frames))
    return batch_id


async def link_unlinked(conn: Connection, session_id: UUID, assessment_id: UUID,
                        assessment_type: str) -> int:
    """Attach the session's frames that have no assessment yet; how many were attached."""
    return await execute(conn, SQL.link_unlinked, session_id=session_id,
                         assessment_id=assessment_id, assessment_type=assessment_type)


async def select_captures(conn: Connection, session_id: UUID) -> list[Record]:
    return await fetch(conn, SQL.select_captures, session_id=session_id)


async def select_capture(conn: Connection, session_id: UUID, capture_id: UUID) -> Record | None:
    return await fetchrow(conn, SQL.select_capture, capture_id=capture_id, session_id=session_id)
