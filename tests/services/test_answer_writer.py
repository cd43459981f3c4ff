"""Coalesced one-answer saves: every save gets its own result, after its commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from prometheus_client import REGISTRY

from assessment_async.infra.db import Database, database_unavailable
from assessment_async.services import phq
from assessment_async.services.answer_writer import AnswerWriter
from assessment_core.instruments import PHQ9
from assessment_core.settings import Settings
from assessment_dev.ports import free_port
from tests.services.test_phq import make_session


@pytest.fixture(name="writer")
async def _writer(settings: Settings) -> AsyncIterator[AnswerWriter]:
    assert settings.database_url is not None
    db = Database(settings, settings.database_url)
    background: set[asyncio.Task[None]] = set()
    try:
        yield AnswerWriter(db, background)
        await asyncio.gather(*background)
    finally:
        await db.dispose()


def flushes() -> float:
    return REGISTRY.get_sample_value("phq_save_batch_size_count") or 0.0


async def test_concurrent_saves_share_statements_and_each_gets_its_own_result(
    writer: AnswerWriter, conn: asyncpg.Connection,
) -> None:
    sessions = [await make_session(conn) for _ in range(20)]
    submitted_sid, submitted_hash = sessions[0]
    await phq.submit_assessment(conn, submitted_sid, PHQ9, dict.fromkeys(range(1, 10), 0))
    saves = []
    for n, (sid, token_hash) in enumerate(sessions):
        for question in range(1, 10):
            wrong = n == 1 and question == 5
            saves.append((sid, b"x" * 32 if wrong else token_hash, question, (n + question) % 4))
    before = flushes()

    results = await asyncio.gather(*(writer.save(sid, token_hash, "phq9", question, answer)
                                     for sid, token_hash, question, answer in saves))

    assert flushes() - before < len(saves) / 4, "saves made together should share statements"
    for (sid, token_hash, question, answer), row in zip(saves, results, strict=True):
        refused = sid == submitted_sid or token_hash == b"x" * 32
        if refused:
            assert row is None
        else:
            assert row is not None
            assert (row["session_id"], row["question_id"], row["answer"]) == (sid, question,
                                                                              answer)
    stored = await conn.fetch("SELECT session_id, question_id, answer FROM responses "
                              "WHERE instrument = 'phq9' AND session_id = ANY($1::uuid[])",
                              [sid for sid, _ in sessions])
    expected = {(sid, q, a) for sid, h, q, a in saves if sid != submitted_sid and h != b"x" * 32}
    stored_without_submitted = {(r["session_id"], r["question_id"], r["answer"])
                                for r in stored if r["session_id"] != submitted_sid}
    assert stored_without_submitted == expected


async def test_two_saves_of_one_item_land_in_the_order_sent(
    writer: AnswerWriter, conn: asyncpg.Connection,
) -> None:
    sid, token_hash = await make_session(conn)
    first, second = await asyncio.gather(writer.save(sid, token_hash, "phq9", 4, 1),
                                         writer.save(sid, token_hash, "phq9", 4, 2))
    assert first is not None and second is not None
    assert (first["answer"], second["answer"]) == (1, 2)
    assert await conn.fetchval("SELECT answer FROM responses WHERE session_id = $1", sid) == 2


async def test_one_bad_row_fails_only_its_own_save(
    writer: AnswerWriter, conn: asyncpg.Connection,
) -> None:
    sid, token_hash = await make_session(conn)
    good = [writer.save(sid, token_hash, "phq9", q, 1) for q in (1, 2, 3)]
    bad = writer.save(sid, token_hash, "phq9", 4, 700)  # out of the column's range
    *rows, error = await asyncio.gather(*good, bad, return_exceptions=True)
    assert isinstance(error, asyncpg.CheckViolationError)
    assert all(isinstance(row, asyncpg.Record) for row in rows)
    saved = await phq.select_responses(conn, sid, "phq9")
    assert [(r["question_id"], r["answer"]) for r in saved] == [(1, 1), (2, 1), (3, 1)]


async def test_an_unreachable_database_fails_every_waiting_save(settings: Settings) -> None:
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    db = Database(settings.model_copy(update={"db_connect_timeout": 1.0}), url)
    writer = AnswerWriter(db, set())
    try:
        outcomes = await asyncio.gather(
            *(writer.save(uuid.uuid4(), b"h" * 32, "phq9", q, 0) for q in range(1, 6)),
            return_exceptions=True)
    finally:
        await db.dispose()
    assert all(isinstance(o, BaseException) and database_unavailable(o) for o in outcomes)
