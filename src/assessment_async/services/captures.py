"""Capture batches and frames: every statement the capture routes run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg

from assessment_async.infra.db import Connection


@dataclass(frozen=True)
class StoredFrame:
    capture_id: UUID
    storage_key: str
    content_type: str
    size_bytes: int
    sha256: str
    original_filename: str | None


async def select_assessment_instrument(
    conn: Connection, session_id: UUID, assessment_id: UUID
) -> str | None:
    """The instrument of one of this session's assessments, or None if it has no such one."""
    instrument: str | None = await conn.fetchval(
        "SELECT instrument FROM assessments WHERE id = $1 AND session_id = $2",
        assessment_id, session_id,
    )
    return instrument


async def insert_batch(
    conn: Connection, session_id: UUID, capture_type: str, assessment_id: UUID | None,
    assessment_type: str | None, frames: Sequence[StoredFrame],
) -> UUID:
    """One batch and all its frames, in one transaction: all rows or none."""
    batch_id = uuid4()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO capture_batches (id, session_id, capture_type, assessment_id) "
            "VALUES ($1, $2, $3, $4)",
            batch_id, session_id, capture_type, assessment_id,
        )
        await conn.executemany(
            """
            INSERT INTO captures (id, batch_id, session_id, position, capture_type, assessment_id,
                                  assessment_type, storage_key, content_type, size_bytes,
                                  sha256, original_filename)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            [(f.capture_id, batch_id, session_id, position, capture_type, assessment_id,
              assessment_type, f.storage_key, f.content_type, f.size_bytes, f.sha256,
              f.original_filename)
             for position, f in enumerate(frames)],
        )
    return batch_id


async def link_unlinked(
    conn: Connection, session_id: UUID, assessment_id: UUID, assessment_type: str
) -> int:
    """Attach the session's frames that have no assessment yet; how many were attached."""
    status = await conn.execute(
        """
        UPDATE captures SET assessment_id = $2, assessment_type = $3
         WHERE session_id = $1 AND assessment_id IS NULL
        """,
        session_id, assessment_id, assessment_type,
    )
    return int(status.split()[-1])


async def select_captures(conn: Connection, session_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT id AS capture_id, batch_id, capture_type, assessment_id, assessment_type,
               content_type, size_bytes, sha256, created_at
          FROM captures WHERE session_id = $1 ORDER BY created_at, batch_id, position
        """,
        session_id,
    )


async def select_capture(
    conn: Connection, session_id: UUID, capture_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT storage_key, content_type, size_bytes, sha256 FROM captures "
        "WHERE id = $1 AND session_id = $2",
        capture_id, session_id,
    )
