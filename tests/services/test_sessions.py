from __future__ import annotations

import hashlib

import asyncpg

from assessment_async.http.auth import hash_token, new_token
from assessment_async.services import sessions


async def test_only_the_token_hash_is_stored(conn: asyncpg.Connection) -> None:
    token, token_hash = new_token()
    row = await sessions.insert_session(conn, token_hash, None)
    assert token_hash == hashlib.sha256(token.encode()).digest() == hash_token(token)
    stored = await conn.fetchrow("SELECT * FROM sessions WHERE id = $1", row["id"])
    assert stored["token_hash"] == token_hash
    assert token.encode() not in b"".join(
        str(value).encode() for value in stored.values())


async def test_token_lookup(conn: asyncpg.Connection) -> None:
    _token, token_hash = new_token()
    row = await sessions.insert_session(conn, token_hash, "ref")
    assert await sessions.select_session_id_by_token(conn, token_hash) == row["id"]
    assert await sessions.select_session_id_by_token(conn, hash_token("nope")) is None


def test_tokens_are_long_and_distinct() -> None:
    tokens = {new_token()[0] for _ in range(100)}
    assert len(tokens) == 100
    assert min(len(t) for t in tokens) >= 43  # 32 random bytes, base64url
