"""Fresh participants for every load run against a served variant: sessions made straight in
its database (so any number of them costs a second, not minutes of HTTP), and the schedule
of what they send (load/participants.py) written where a load generator reads it.

Every run gets sessions no run used before: a participant who submitted cannot answer again,
so reusing one would measure 409s instead of saves.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from assessment_bench.load import participants
from assessment_bench.load.wrk import write_schedule
from assessment_core.sql import SQL
from assessment_core.tokens import new_token


async def seed_sessions(db_url: str, count: int) -> list[dict[str, str]]:
    """`count` new sessions in the database; their ids and tokens."""
    import uuid

    made = [(uuid.uuid4(), *new_token()) for _ in range(count)]
    conn = await asyncpg.connect(db_url)
    try:
        await conn.executemany(SQL.insert_session.asyncpg,
                               [SQL.insert_session.args(id=sid, token_hash=token_hash,
                                                        participant_ref=None)
                                for sid, _token, token_hash in made])
    finally:
        await conn.close()
    return [{"session_id": str(sid), "token": token} for sid, token, _ in made]


class Workload:
    def __init__(self, db_url: str, folder: Path, seed: int = 7) -> None:
        self.db_url = db_url
        self.folder = folder
        self.seed = seed
        self.runs = 0

    def schedule(self, requests: float) -> tuple[Path, int]:
        """A schedule of at least `requests` requests by new participants; (file, length)."""
        self.runs += 1
        sessions = asyncio.run(seed_sessions(self.db_url,
                                             participants.sessions_for(requests)))
        steps = participants.schedule(len(sessions), seed=self.seed + self.runs)
        path = self.folder / f"schedule-{self.runs}.txt"
        write_schedule(path, sessions, steps)
        return path, len(steps)
