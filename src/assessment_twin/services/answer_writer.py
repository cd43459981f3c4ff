"""Group commit on the twin (TWIN_GROUP_COMMIT): the ASGI app's lever, done the gevent way.

A writer thread, which is a greenlet once gevent has patched threading (gunicorn's gevent
worker does, before it loads the app), writes the one-answer saves that arrived while it
wrote the last batch, in one statement and one commit, on connections of its own in
autocommit. Each request waits for its own row and is answered only after the statement
that holds it committed: a 2xx still means the answer is stored. Under gthread the writer
is a real thread and the requests' threads wait on it the same way. The batching rules are
the ASGI app's (assessment_core/answer_batches.py).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from assessment_core.answer_batches import (
    Answer,
    batch_values,
    key_of,
    rows_by_key,
    take_batch,
)
from assessment_core.sql import SQL
from assessment_twin.db import database_unavailable, fetch, single

log = logging.getLogger(__name__)


@dataclass
class _Save:
    session_id: UUID
    token_hash: bytes
    instrument: str
    question_id: int
    answer: int
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None
    error: BaseException | None = None

    def settle(self, result: dict[str, Any] | None = None,
               error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


class AnswerWriter:
    """Coalesces concurrent one-answer saves; one batch in flight at a time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # autocommit, WRITER_CONNECTIONS of DB_POOL_SIZE
        self._ready = threading.Condition()
        self._pending: list[_Save] = []
        self._writer: threading.Thread | None = None

    def save(self, session_id: UUID, token_hash: bytes, instrument: str, question_id: int,
             answer: int) -> dict[str, Any] | None:
        """Store one answer; None when the token does not open the session or it was
        submitted. Raises what the database raised (an outage maps to 503)."""
        item = _Save(session_id, token_hash, instrument, question_id, answer)
        with self._ready:
            self._pending.append(item)
            if self._writer is None:  # started in the worker that serves, after the fork
                self._writer = threading.Thread(target=self._run, name="answer-writer",
                                                daemon=True)
                self._writer.start()
            self._ready.notify()
        item.done.wait()  # the writer settles every save it takes, however it ends (_run)
        if item.error is not None:
            raise item.error
        return item.result

    def _run(self) -> None:
        batch: list[_Save] = []
        try:
            while True:
                with self._ready:
                    while not self._pending:
                        self._ready.wait()
                    batch, self._pending = take_batch(self._pending)
                self._write(batch)
                batch = []
        except BaseException as error:
            # The writer is going (the worker stopping, a bug): no save may wait for it
            # forever. What it held and what is queued fail, and the next save starts a
            # new writer.
            log.exception("the answer writer stopped")
            with self._ready:
                stranded, self._pending, self._writer = batch + self._pending, [], None
            for item in stranded:
                if not item.done.is_set():
                    item.settle(error=RuntimeError(f"the answer writer stopped: {error!r}"))
            # The thread ends here; the exception is logged, not raised into nowhere.

    def _write(self, batch: list[_Save]) -> None:
        try:
            rows = upsert_responses(self._engine, batch)
        except Exception as error:  # every waiting request gets its answer
            if database_unavailable(error) or len(batch) == 1:
                for item in batch:
                    item.settle(error=error)
            else:
                # One row's error (a session deleted meanwhile...) must not fail the others.
                log.warning("a batch of %d answers failed (%s); writing them one by one",
                            len(batch), error)
                for item in batch:
                    self._write_one(item)
            return
        saved = rows_by_key(rows)
        for item in batch:
            row = saved.get(key_of(item))
            item.settle(result=dict(row) if row is not None else None)

    def _write_one(self, item: _Save) -> None:
        try:
            rows = upsert_responses(self._engine, [item])
        except Exception as error:
            item.settle(error=error)
        else:
            item.settle(result=rows[0] if rows else None)


def upsert_responses(engine: Engine, batch: list[_Save] | list[Answer]) -> list[dict[str, Any]]:
    """Write the batch in one statement (SQL.upsert_responses); the rows it saved."""
    with single(engine) as conn:
        return fetch(conn, SQL.upsert_responses, **batch_values(batch))
