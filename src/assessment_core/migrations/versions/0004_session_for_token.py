"""session_for_token(): the one place a bearer token is checked

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every statement that authenticates selects from this function (assessment_core/sql). It is
# a plain SQL function, STABLE, so the planner inlines it: a statement using it is planned
# exactly as if it compared the hash itself, on the same unique index.
SESSION_FOR_TOKEN = """
CREATE OR REPLACE FUNCTION session_for_token(token_hash bytea) RETURNS SETOF sessions
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT * FROM sessions WHERE sessions.token_hash = session_for_token.token_hash $$
"""


def upgrade() -> None:
    op.execute(SESSION_FOR_TOKEN)


def downgrade() -> None:
    op.execute("DROP FUNCTION session_for_token(bytea)")
