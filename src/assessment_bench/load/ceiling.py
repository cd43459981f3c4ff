"""The raw driver ceiling: the participants' schedule (load/participants.py) run straight on
an asyncpg pool, no HTTP, on the server's core: each save the one-answer statement, each
submit the app's own submit transaction. What no app on this driver can beat.

    python -m assessment_bench.load.ceiling DATABASE_URL --seconds S --schedule FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg
import uvloop

from assessment_async.services.phq import submit_assessment
from assessment_bench.load.openloop import read_schedule
from assessment_core.instruments import PHQ9
from assessment_core.scoring import IncompleteAnswers
from assessment_core.sql import SQL
from assessment_core.tokens import hash_token

UPSERT = SQL.upsert_response


async def run(url: str, seconds: float, schedule: list[tuple[str, str, int, int]],
              concurrency: int, pool_size: int) -> dict[str, object]:
    pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
    steps = [(uuid.UUID(sid), hash_token(token), item, answer)
             for sid, token, item, answer in schedule]
    saves = submits = errors = 0
    cursor = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal saves, submits, errors, cursor
        while time.perf_counter() < stop_at and cursor < len(steps):
            session_id, token_hash, item, answer = steps[cursor]
            cursor += 1
            async with pool.acquire() as conn:
                if item == 0:
                    try:
                        await submit_assessment(conn, session_id, PHQ9, {})
                    except IncompleteAnswers:  # its last save has not landed: as over HTTP
                        errors += 1
                    submits += 1
                else:
                    await conn.fetchrow(UPSERT.asyncpg, *UPSERT.args(
                        session_id=session_id, token_hash=token_hash, instrument=PHQ9.key,
                        question_id=item, answer=answer))
                    saves += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return {"saves_per_s": round(saves / elapsed, 1),
            "requests_per_s": round((saves + submits) / elapsed, 1),
            "concurrency": concurrency, "pool_size": pool_size, "submits_refused": errors,
            "schedule_ran_out": cursor >= len(steps)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--schedule", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(uvloop.run(run(args.database_url, args.seconds,
                                    read_schedule(args.schedule), args.concurrency,
                                    args.pool_size))))


if __name__ == "__main__":
    main()
