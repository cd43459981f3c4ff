"""The schema as SQLAlchemy Core tables, shared by both apps and by Alembic.

Migrations under migrations/versions are the source of truth for the database; these tables
describe it for queries and for `alembic check`.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # sha256 of the bearer token; the token itself is shown once and never stored.
    Column("token_hash", LargeBinary(32), nullable=False, unique=True),
    Column("participant_ref", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

responses = Table(
    "responses",
    metadata,
    Column("session_id", UUID(as_uuid=True),
           ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("instrument", Text, primary_key=True),
    Column("question_id", SmallInteger, primary_key=True),
    Column("answer", SmallInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("answer BETWEEN 0 AND 3", name="answer_range"),
)

assessments = Table(
    "assessments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("session_id", UUID(as_uuid=True),
           ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("instrument", Text, nullable=False),
    Column("total_score", SmallInteger, nullable=False),
    Column("severity", Text, nullable=False),
    # The safety item (PHQ-9 item 9) answered above 0: a clinician must review.
    Column("flagged", Boolean, nullable=False),
    Column("difficulty", SmallInteger, nullable=True),
    # The answers exactly as scored, so the record stands even if responses change later.
    Column("answers", JSONB, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("session_id", "instrument", name="uq_assessments_session_instrument"),
)

Index("ix_assessments_flagged", assessments.c.flagged, postgresql_where=assessments.c.flagged)
