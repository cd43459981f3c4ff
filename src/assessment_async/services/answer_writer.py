"""One-answer saves, coalesced: the answers that arrive while a write is in flight go to the
database together, in one statement and one commit (group commit).

Each save still gets its own result (the saved row, or None when its token does not open its
session or the questionnaire was submitted), and only after the statement that holds it has
committed: a 2xx always means the answer is stored. Under load a flush carries tens of
answers for one round trip, one pool checkout and one WAL flush, where one statement per
answer paid each of those every time (docs/performance.md). With no load, a flush carries one
answer and costs what the single statement cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID

import asyncpg

from assessment_async.infra.db import Connection, Database, database_unavailable, fetch
from assessment_async.infra.metrics import SAVE_BATCH_SIZE
from assessment_core.answer_batches import (
    WRITER_CONNECTIONS,
    Answer,
    batch_values,
    key_of,
    rows_by_key,
    take_batch,
)
from assessment_core.sql import SQL

__all__ = ["WRITER_CONNECTIONS", "Answer", "AnswerWriter", "SavedAnswer", "upsert_responses"]

log = logging.getLogger(__name__)



@dataclass
class _Save:
    session_id: UUID
    token_hash: bytes
    instrument: str
    question_id: int
    answer: int
    done: asyncio.Future[asyncpg.Record | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class AnswerWriter:
    """Coalesces concurrent one-answer saves; one flush in flight at a time."""

    def __init__(self, db: Database, background: set[asyncio.Task[None]]) -> None:
        self._db = db
        self._pending: list[_Save] = []
        self._flushing: asyncio.Task[None] | None = None
        self._background = background  # awaited when the app stops

    async def save(self, session_id: UUID, token_hash: bytes, instrument: str,
                   question_id: int, answer: int) -> asyncpg.Record | None:
        """Store one answer; None when the token does not open the session or it was
        submitted. Raises what the database raised (an outage maps to 503 upstream)."""
        item = _Save(session_id, token_hash, instrument, question_id, answer)
        self._pending.append(item)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_all())
            self._background.add(self._flushing)
            self._flushing.add_done_callback(self._background.discard)
        # A cancelled request cancels only its wait; the flush it joined carries on.
        return await asyncio.shield(item.done)

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = take_batch(self._pending)
                await self._write(batch)
        finally:
            self._flushing = None

    async def _write(self, batch: list[_Save]) -> None:
        SAVE_BATCH_SIZE.observe(len(batch))
        try:
            async with self._db.connection() as conn:
                rows = await upsert_responses(conn, batch)
        except Exception as error:
            if database_unavailable(error) or len(batch) == 1:
                for item in batch:
                    _settle(item, error=error)
            else:
                # One row's error (a session deleted meanwhile...) must not fail the others:
                # each is written on its own, and only the culprit sees its error.
                log.warning("a batch of %d answers failed (%s); writing them one by one",
                            len(batch), error)
                await asyncio.gather(*(self._write_one(item) for item in batch))
            return
        saved = rows_by_key(rows)
        for item in batch:
            _settle(item, result=saved.get(key_of(item)))

    async def _write_one(self, item: _Save) -> None:
        try:
            async with self._db.connection() as conn:
                rows = await upsert_responses(conn, [item])
        except Exception as error:
            _settle(item, error=error)
        else:
            _settle(item, result=rows[0] if rows else None)


class SavedAnswer(NamedTuple):
    """One answer saved on its own (GROUP_COMMIT off, or the one-by-one fallback)."""

    session_id: UUID
    token_hash: bytes
    instrument: str
    question_id: int
    answer: int


async def upsert_responses(conn: Connection, batch: Sequence[Answer]) -> list[asyncpg.Record]:
    """Write the batch in one statement (SQL.upsert_responses); the rows it saved. A row is
    left out when its token does not open its session or the questionnaire was submitted."""
    return await fetch(conn, SQL.upsert_responses, **batch_values(batch))


def _settle(item: _Save, result: asyncpg.Record | None = None,
            error: BaseException | None = None) -> None:
    if item.done.done():
        return
    if error is not None:
        item.done.set_exception(error)
    else:
        item.done.set_result(result)
