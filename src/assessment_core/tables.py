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
    Integer,
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
    CheckConstraint("answer BETWEEN 0 AND 100", name="answer_range"),  # 0005
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

chat_turns = Table(
    "chat_turns",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("session_id", UUID(as_uuid=True),
           ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("turn_number", Integer, nullable=False),
    Column("user_message", Text, nullable=False),
    # What the assistant said, exactly as relayed to the client; None until the turn ends.
    Column("ai_message", Text, nullable=True),
    # streaming -> complete | partial (client left or upstream broke mid-stream) | failed
    Column("status", Text, nullable=False),
    Column("error_code", Text, nullable=True),
    Column("model", Text, nullable=False),
    Column("completion_tokens", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("session_id", "turn_number", name="uq_chat_turns_session_turn"),
    CheckConstraint("status IN ('streaming', 'complete', 'partial', 'failed')", name="status"),
)

# At most one turn streams per session: a second chat while one streams is refused (409).
Index("uq_chat_turns_one_streaming", chat_turns.c.session_id, unique=True,
      postgresql_where=chat_turns.c.status == "streaming")

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("session_id", UUID(as_uuid=True),
           ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("metadata", JSONB, nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("role IN ('user', 'assistant', 'system')", name="role"),
)

capture_batches = Table(
    "capture_batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("session_id", UUID(as_uuid=True),
           ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("capture_type", Text, nullable=False),
    Column("assessment_id", UUID(as_uuid=True),
           ForeignKey("assessments.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

captures = Table(
    "captures",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("batch_id", UUID(as_uuid=True),
           ForeignKey("capture_batches.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("session_id", UUID(as_uuid=True),
           ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    # The frame's place in its batch, so frames list in the order they were sent.
    Column("position", SmallInteger, nullable=False),
    Column("capture_type", Text, nullable=False),
    # Set at upload, or later by linking the session's unlinked frames to an assessment.
    Column("assessment_id", UUID(as_uuid=True),
           ForeignKey("assessments.id", ondelete="SET NULL"), nullable=True),
    Column("assessment_type", Text, nullable=True),
    # Where the bytes are in storage: a server-made name, never the client's filename.
    Column("storage_key", Text, nullable=False, unique=True),
    Column("content_type", Text, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", Text, nullable=False),
    # As the client named it, for display only.
    Column("original_filename", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

Index("ix_assessments_flagged", assessments.c.flagged, postgresql_where=assessments.c.flagged)
