"""Group commit of one-answer saves, the part both apps' writers share: which pending saves
go in the next statement, the statement's values, and each save's row in what it returned.

A batch holds each item (session, instrument, question) once: a second save of the same
item waits for the next batch, so it lands after the first, as sent. Each writer adds only
its I/O: a task on the ASGI app (assessment_async/services/answer_writer.py), a thread (a
greenlet once gevent has patched threading) on the twin (assessment_twin/services/
answer_writer.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar
from uuid import UUID

MAX_BATCH = 500
# Each writer's own pool (taken from DB_POOL_SIZE): one batch is written at a time; the
# second connection serves the one-by-one fallback and replaces one lost to a restart.
WRITER_CONNECTIONS = 2
Key = tuple[UUID, str, int]


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


A = TypeVar("A", bound=Answer)


def key_of(answer: Answer) -> Key:
    return answer.session_id, answer.instrument, answer.question_id


def take_batch(pending: Sequence[A], most: int = MAX_BATCH) -> tuple[list[A], list[A]]:
    """(the next batch, what waits for a later one): up to `most` saves, each item once."""
    batch: list[A] = []
    keys: set[Key] = set()
    rest: list[A] = []
    for item in pending:
        if len(batch) < most and key_of(item) not in keys:
            keys.add(key_of(item))
            batch.append(item)
        else:
            rest.append(item)
    return batch, rest


def batch_values(batch: Sequence[Answer]) -> dict[str, list[Any]]:
    """The values of SQL.upsert_responses for a batch."""
    return {"session_ids": [i.session_id for i in batch],
            "token_hashes": [i.token_hash for i in batch],
            "instruments": [i.instrument for i in batch],
            "question_ids": [i.question_id for i in batch],
            "answers": [i.answer for i in batch]}


def rows_by_key(rows: Iterable[Mapping[str, Any]]) -> dict[Key, Mapping[str, Any]]:
    """What the statement returned, by item: an item missing was refused (its token does not
    open its session, or the questionnaire was submitted)."""
    return {(r["session_id"], r["instrument"], r["question_id"]): r for r in rows}
