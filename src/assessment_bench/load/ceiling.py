"""The raw driver ceiling: the same upsert from an asyncpg pool, no HTTP, for S seconds.

    python -m assessment_bench.load.ceiling DATABASE_URL --seconds S --sessions FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid

import asyncpg
import uvloop

from assessment_core.sql import SQL
from assessment_core.tokens import hash_token

UPSERT_RESPONSE = SQL.upsert_response.asyncpg  # the twin's one-answer statement


async def run(url: str, seconds: float, sessions: list[dict[str, str]], concurrency: int,
              pool_size: int) -> dict[str, object]:
    pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
    keys = [(uuid.UUID(s["session_id"]), hash_token(s["token"])) for s in sessions]
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop_at:
            session_id, token_hash = keys[i % len(keys)]
            async with pool.acquire() as conn:
                await conn.fetchrow(UPSERT_RESPONSE, *SQL.upsert_response.args(
                    session_id=session_id, token_hash=token_hash, instrument="phq9",
                    question_id=i % 10 + 1, answer=i % 4))
            done += 1
            i += concurrency

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return {"upserts_per_s": round(done / elapsed, 1), "concurrency": concurrency,
            "pool_size": pool_size}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--sessions", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool-size", type=int, default=10)
    args = parser.parse_args()
    with open(args.sessions) as handle:
        sessions = json.load(handle)
    print(json.dumps(uvloop.run(run(args.database_url, args.seconds, sessions,
                                    args.concurrency, args.pool_size))))


if __name__ == "__main__":
    main()
