"""The twin's group commit: concurrent saves share statements, each gets its own row, and a
save is answered only once it is stored."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg2
import pytest
from sqlalchemy import Engine

from assessment_core.settings import Settings
from assessment_core.tokens import new_token
from assessment_twin.db import make_engine
from assessment_twin.services import answer_writer
from assessment_twin.services.answer_writer import AnswerWriter


@pytest.fixture(name="engine")
def _engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(Settings(database_url=database_url), database_url, pool_size=2,
                         autocommit=True)
    yield engine
    engine.dispose()
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE sessions CASCADE")


def sessions(database_url: str, count: int) -> list[tuple[uuid.UUID, bytes]]:
    made = [(uuid.uuid4(), new_token()[1]) for _ in range(count)]
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        for sid, token_hash in made:
            cursor.execute("INSERT INTO sessions (id, token_hash) VALUES (%s, %s)",
                           (str(sid), token_hash))
    return made


def test_concurrent_saves_share_statements_and_each_gets_its_row(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = sessions(database_url, 10)
    sizes: list[int] = []
    real = answer_writer.upsert_responses

    def counted(engine: Engine, batch: Any) -> list[dict[str, Any]]:
        sizes.append(len(batch))
        return real(engine, batch)

    monkeypatch.setattr(answer_writer, "upsert_responses", counted)
    writer = AnswerWriter(engine)
    results: dict[tuple[int, int], dict[str, Any] | None] = {}
    start = threading.Barrier(60)

    def save(n: int) -> None:
        sid, token_hash = made[n % 10]
        item = n // 10 + 1  # items 1..6 of each session
        start.wait()
        results[(n % 10, item)] = writer.save(sid, token_hash, "phq9", item, n % 4)

    threads = [threading.Thread(target=save, args=(n,)) for n in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 60 and all(r is not None for r in results.values())
    assert sum(sizes) == 60 and max(sizes) > 1, sizes  # saves shared statements
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM responses")
        assert cursor.fetchone() == (60,)  # every answer acknowledged is stored


def test_a_save_with_the_wrong_token_is_refused_and_the_others_are_not(
    engine: Engine, database_url: str,
) -> None:
    (sid, token_hash), (_, other_hash) = sessions(database_url, 2)
    writer = AnswerWriter(engine)
    assert writer.save(sid, other_hash, "phq9", 1, 2) is None
    row = writer.save(sid, token_hash, "phq9", 1, 3)
    assert row is not None and (row["question_id"], row["answer"]) == (1, 3)


def test_a_writer_that_dies_fails_its_saves_and_the_next_save_starts_another(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    [(sid, token_hash)] = sessions(database_url, 1)
    real = answer_writer.upsert_responses
    calls: list[int] = []

    def dies_once(engine: Engine, batch: Any) -> list[dict[str, Any]]:
        calls.append(len(batch))
        if len(calls) == 1:
            raise SystemExit("the worker is stopping")  # not an Exception: _write lets it by
        return real(engine, batch)

    monkeypatch.setattr(answer_writer, "upsert_responses", dies_once)
    writer = AnswerWriter(engine)
    with pytest.raises(RuntimeError, match="the answer writer stopped"):
        writer.save(sid, token_hash, "phq9", 1, 2)  # answered, not left waiting
    row = writer.save(sid, token_hash, "phq9", 1, 3)
    assert row is not None and row["answer"] == 3 and len(calls) == 2


def test_one_bad_row_fails_only_its_own_save(engine: Engine, database_url: str) -> None:
    [(sid, token_hash)] = sessions(database_url, 1)
    writer = AnswerWriter(engine)
    results: dict[int, Any] = {}
    start = threading.Barrier(4)

    def save(item: int, answer: int) -> None:
        start.wait()
        try:
            results[item] = writer.save(sid, token_hash, "phq9", item, answer)
        except Exception as error:
            results[item] = error

    threads = [threading.Thread(target=save, args=(q, 700 if q == 4 else 1))
               for q in (1, 2, 3, 4)]  # 700: out of the column's range
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert isinstance(results[4], psycopg2.errors.CheckViolation) or isinstance(
        getattr(results[4], "orig", None), psycopg2.errors.CheckViolation), results[4]
    assert all(results[q]["answer"] == 1 for q in (1, 2, 3))
