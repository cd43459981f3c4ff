"""The ledger itself: it counts what was acknowledged, and it notices a write that is gone."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from assessment_bench.reliability import ledger
from assessment_bench.reliability.server import Server, Stack


async def test_the_readback_finds_every_write_and_misses_a_removed_one(stack: Stack) -> None:
    server = Server("asgi", stack)
    await asyncio.to_thread(server.start)
    book, stop = ledger.Ledger(), asyncio.Event()
    try:
        clients = asyncio.ensure_future(ledger.drive(server, book, stop, clients=4))
        await asyncio.sleep(1.5)
        stop.set()
        await clients
    finally:
        await asyncio.to_thread(server.stop)
    capture_dir = stack.workdir / "asgi-captures"
    found = await ledger.readback(book, stack.database_url, capture_dir)
    kinds = {a.kind for a in book.acks}
    assert kinds == {"session", "answer", "turn", "frame"}
    assert found.acknowledged == len(book.acks) and found.lost == 0
    assert book.count("acked") > 20 and book.count("failed") == 0

    answer, turn, frame, other_frame = (
        next(a for a in book.acks if a.kind == "answer"),
        next(a for a in book.acks if a.kind == "turn"),
        *[a for a in book.acks if a.kind == "frame"][:2],
    )
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("UPDATE responses SET answer = (answer + 1) % 4 "
                           "WHERE session_id = $1 AND question_id = $2",
                           uuid.UUID(answer.session_id), int(answer.key))
        await conn.execute("DELETE FROM chat_turns WHERE session_id = $1 AND turn_number = $2",
                           uuid.UUID(turn.session_id), int(turn.key))
        await conn.execute("DELETE FROM captures WHERE id = $1", uuid.UUID(frame.key))
        key = await conn.fetchval("SELECT storage_key FROM captures WHERE id = $1",
                                  uuid.UUID(other_frame.key))
    finally:
        await conn.close()
    (capture_dir / key).write_bytes(b"\xff\xd8\xff not the frame that was sent")

    found = await ledger.readback(book, stack.database_url, capture_dir)
    assert found.lost == 4
    assert set(found.missing) == {answer, turn, frame, other_frame}
