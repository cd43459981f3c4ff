from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from asyncpg import Record

from assessment_async.http.auth import new_token
from assessment_async.services import phq, sessions
from assessment_async.services.answer_writer import SavedAnswer, upsert_responses
from assessment_core.instruments import GAD7, PHQ9
from assessment_core.scoring import IncompleteAnswers
from assessment_core.sql import SQL


async def make_session(conn: asyncpg.Connection) -> tuple[uuid.UUID, bytes]:
    _token, token_hash = new_token()
    row = await sessions.insert_session(conn, token_hash, "p-1")
    return row["id"], token_hash


async def upsert_response(conn: asyncpg.Connection, session_id: uuid.UUID, token_hash: bytes,
                          instrument: str, question_id: int, answer: int) -> Record | None:
    """One answer through the statement the answer writer runs (a batch of one)."""
    rows = await upsert_responses(conn, [SavedAnswer(session_id, token_hash, instrument,
                                                     question_id, answer)])
    return rows[0] if rows else None


async def test_upsert_creates_then_updates_one_row(conn: asyncpg.Connection) -> None:
    sid, token_hash = await make_session(conn)
    first = await upsert_response(conn, sid, token_hash, "phq9", 3, 1)
    second = await upsert_response(conn, sid, token_hash, "phq9", 3, 2)
    assert first is not None and second is not None
    assert (second["question_id"], second["answer"]) == (3, 2)
    assert second["updated_at"] >= first["updated_at"]
    rows = await phq.select_responses(conn, sid, "phq9")
    assert [(r["question_id"], r["answer"]) for r in rows] == [(3, 2)]


async def test_upsert_with_a_wrong_token_writes_nothing(conn: asyncpg.Connection) -> None:
    sid, _ = await make_session(conn)
    _other_sid, other_hash = await make_session(conn)
    assert await upsert_response(conn, sid, other_hash, "phq9", 1, 1) is None
    assert await upsert_response(conn, uuid.uuid4(), other_hash, "phq9", 1, 1) is None
    assert await phq.select_responses(conn, sid, "phq9") == []


async def test_upsert_is_refused_after_submission(conn: asyncpg.Connection) -> None:
    sid, token_hash = await make_session(conn)
    await phq.submit_assessment(conn, sid, PHQ9, dict.fromkeys(range(1, 10), 1))
    assert await upsert_response(conn, sid, token_hash, "phq9", 1, 3) is None
    rows = await phq.select_responses(conn, sid, "phq9")
    assert {r["answer"] for r in rows} == {1}


async def test_upsert_is_one_round_trip(conn: asyncpg.Connection) -> None:
    """The hot path: one statement whatever happens (asyncpg logs each query it sends)."""
    sid, token_hash = await make_session(conn)
    # A connection's first statement with array parameters also asks the server about their
    # types (asyncpg's introspection, once per connection): not counted.
    await upsert_response(conn, sid, token_hash, "phq9", 5, 1)
    sent: list[str] = []
    conn.add_query_logger(lambda record: sent.append(record.query))
    await upsert_response(conn, sid, token_hash, "phq9", 5, 2)
    await upsert_response(conn, sid, token_hash, "phq9", 5, 3)
    await asyncio.sleep(0.01)  # asyncpg calls query loggers on the next loop turns
    assert len(sent) == 2
    assert all(query == SQL.upsert_responses.asyncpg for query in sent)


async def test_submit_merges_saved_and_sent_answers(conn: asyncpg.Connection) -> None:
    sid, token_hash = await make_session(conn)
    for question_id in range(1, 6):
        await upsert_response(conn, sid, token_hash, "phq9", question_id, 3)
    row, created = await phq.submit_assessment(
        conn, sid, PHQ9, {6: 0, 7: 0, 8: 0, 9: 0, 10: 2, 1: 2})
    assert created is True
    assert (row["total_score"], row["severity"], row["flagged"], row["difficulty"]) == (
        14, "moderate", False, 2)
    assert row["answers"]["1"] == 2


async def test_incomplete_submit_saves_nothing(conn: asyncpg.Connection) -> None:
    sid, _ = await make_session(conn)
    with pytest.raises(IncompleteAnswers) as caught:
        await phq.submit_assessment(conn, sid, PHQ9, {1: 1, 2: 1})
    assert caught.value.missing == [3, 4, 5, 6, 7, 8, 9]
    assert await phq.select_responses(conn, sid, "phq9") == []
    assert await phq.select_assessment(conn, sid, "phq9") is None


async def test_racing_submits_give_one_assessment(database_url: str) -> None:
    setup = await asyncpg.connect(database_url)
    try:
        sid, _ = await make_session(setup)
        conns = [await asyncpg.connect(database_url) for _ in range(4)]
        for c in conns:
            await c.set_type_codec("jsonb", encoder=str, decoder=json.loads,
                                   schema="pg_catalog")
        answers = dict.fromkeys(range(1, 10), 2)
        results = await asyncio.gather(*(phq.submit_assessment(c, sid, PHQ9, answers)
                                         for c in conns))
        assert sorted(created for _row, created in results) == [False, False, False, True]
        assert len({row["id"] for row, _created in results}) == 1
        for c in conns:
            await c.close()
    finally:
        await setup.execute("TRUNCATE sessions CASCADE")
        await setup.close()


async def test_instruments_are_kept_apart(conn: asyncpg.Connection) -> None:
    sid, token_hash = await make_session(conn)
    await phq.submit_assessment(conn, sid, GAD7, dict.fromkeys(range(1, 8), 3))
    assert await upsert_response(conn, sid, token_hash, "phq9", 1, 1) is not None
    gad = await phq.select_assessment(conn, sid, "gad7")
    assert gad is not None and (gad["total_score"], gad["severity"]) == (21, "severe")
    assert await phq.select_assessment(conn, sid, "phq9") is None
