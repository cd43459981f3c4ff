"""Session tokens: random, shown once, stored only as a sha256 hash; the rules that check them.

sha256 without a salt or a slow hash is enough here: the tokens are 256-bit random values, so
there is nothing to brute-force, and the lookup must stay one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

from assessment_core.errors import APIError

TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="assessment"'}


def new_token() -> tuple[str, bytes]:
    """A fresh token for the client and the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_hash_from_header(header: str | None) -> bytes:
    """The hash of the bearer token in an Authorization header; 401 when absent or malformed."""
    if not header:
        raise APIError(401, "AUTH_REQUIRED", "Send 'Authorization: Bearer <token>' with the "
                       "token that POST /api/sessions returned.", headers=CHALLENGE)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS \
            or not token.isascii():
        raise APIError(401, "INVALID_TOKEN", "The Authorization header must be "
                       "'Bearer <token>' with the session's token.", headers=CHALLENGE)
    return hash_token(token)


def check_owner(owner: UUID | None, session_id: UUID) -> None:
    """401 when the token opens no session; 404 when it opens another one than `session_id`."""
    if owner is None:
        raise APIError(401, "INVALID_TOKEN", "This token opens no session; create a session "
                       "with POST /api/sessions.", headers=CHALLENGE)
    if owner != session_id:
        # The same answer as for a session that does not exist: ids are not probeable.
        raise APIError(404, "SESSION_NOT_FOUND", f"There is no session {session_id} for this "
                       "token.")
