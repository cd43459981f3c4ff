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
from typing import Protocol
from uuid import UUID

import asyncpg

from assessment_async.infra.db import Connection, Database, database_unavailable, fetch
from assessment_async.infra.metrics import SAVE_BATCH_SIZE
from assessment_core.sql import SQL

log = logging.getLogger(__name__)

MAX_BATCH = 500
# The writer's own pool (taken from DB_POOL_SIZE): one flush runs at a time, the second connection
# serves the one-by-one fallback and replaces a connection lost to a database restart.
WRITER_CONNECTIONS = 2
Key = tuple[UUID, str, int]


@dataclass
class _Save:
    session_id: UUID
    token_hash: bytes
    instrument: str
    question_id: int
    answer: int
    done: asyncio.Future[asyncpg.Record | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())

    @property
    def key(self) -> Key:
        return self.session_id, self.instrument, self.question_id


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
                batch = self._take_batch()
                await self._write(batch)
        finally:
            self._flushing = None

    def _take_batch(self) -> list[_Save]:
        """Up to MAX_BATCH pending saves with distinct keys; a second save of the same item
        waits for the next flush, so it lands after the first, as sent."""
        batch: list[_Save] = []
        keys: set[Key] = set()
        rest: list[_Save] = []
        for item in self._pending:
            if len(batch) < MAX_BATCH and item.key not in keys:
                keys.add(item.key)
                batch.append(item)
            else:
                rest.append(item)
        self._pending = rest
        return batch

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
        saved = {(r["session_id"], r["instrument"], r["question_id"]): r for r in rows}
        for item in batch:
            _settle(item, result=saved.get(item.key))

    async def _write_one(self, item: _Save) -> None:
        try:
            async with self._db.connection() as conn:
                rows = await upsert_responses(conn, [item])
        except Exception as error:
            _settle(item, error=error)
        else:
            _settle(item, result=rows[0] if rows else None)


class Answer(Protocol):
    """One answer to save, with the hash of the token that must open its session."""

    @property
    def session_id(self) -> UUID: ...
    @property
    def token_hash(self) -> bytes: ...
    @property
    def instrument(self) -> str: ...
    @property
    def question_id(self) -> int: ...
    @property
    def answer(self) -> int: ...


async def upsert_responses(conn: Connection, batch: Sequence[Answer]) -> list[asyncpg.Record]:
    """Write the batch in one statement (SQL.upsert_responses); the rows it saved. A row is
    left out when its token does not open its session or the questionnaire was submitted."""
    return await fetch(conn, SQL.upsert_responses,
                       session_ids=[i.session_id for i in batch],
                       token_hashes=[i.token_hash for i in batch],
                       instruments=[i.instrument for i in batch],
                       question_ids=[i.question_id for i in batch],
                       answers=[i.answer for i in batch])


def _settle(item: _Save, result: asyncpg.Record | None = None,
            error: BaseException | None = None) -> None:
    if item.done.done():
        return
    if error is not None:
        item.done.set_exception(error)
    else:
        item.done.set_result(result)
