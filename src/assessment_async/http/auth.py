"""Bearer tokens on the ASGI app: read from the request, checked against the database."""

from __future__ import annotations

from uuid import UUID

from quart import request

from assessment_async.infra.db import Connection
from assessment_async.services.sessions import select_session_id_by_token
from assessment_core.tokens import (
    check_owner,
    hash_token,
    new_token,
    token_hash_from_header,
)

__all__ = ["bearer_hash", "hash_token", "new_token", "require_session"]


def bearer_hash() -> bytes:
    """The hash of this request's bearer token; 401 when it is absent or malformed."""
    return token_hash_from_header(request.headers.get("Authorization"))


async def require_session(conn: Connection, session_id: UUID, token_hash: bytes) -> None:
    """401 when the token opens no session; 404 when it opens another one than `session_id`."""
    check_owner(await select_session_id_by_token(conn, token_hash), session_id)
