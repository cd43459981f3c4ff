"""CameraAssessmentService: capture batches and linking, sync."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine, text

from assessment_async.services.captures import StoredFrame
from assessment_twin.db import transaction


class CameraAssessmentService:
    engine: Engine

    @classmethod
    def assessment_instrument(cls, session_id: UUID, assessment_id: UUID) -> str | None:
        with transaction(cls.engine) as conn:
            instrument: str | None = conn.execute(text(
                "SELECT instrument FROM assessments WHERE id = :a AND session_id = :sid"),
                {"a": assessment_id, "sid": session_id}).scalar()
        return instrument

    @classmethod
    def create_batch_capture_with_assessment_id(
        cls, assessment_id: UUID | None, frames: Sequence[StoredFrame], capture_type: str,
        extra: dict[str, Any],
    ) -> UUID:
        """One batch and its frames in one transaction. `extra`: session_id, assessment_type."""
        batch_id = uuid4()
        session_id = extra["session_id"]
        with transaction(cls.engine) as conn:
            conn.execute(text(
                "INSERT INTO capture_batches (id, session_id, capture_type, assessment_id) "
                "VALUES (:id, :sid, :t, :a)"),
                {"id": batch_id, "sid": session_id, "t": capture_type, "a": assessment_id})
            conn.execute(text("""
                INSERT INTO captures (id, batch_id, session_id, position, capture_type,
                                      assessment_id, assessment_type, storage_key, content_type,
                                      size_bytes, sha256, original_filename)
                VALUES (:id, :batch, :sid, :pos, :t, :a, :at, :key, :ct, :size, :sha, :name)"""),
                [{"id": f.capture_id, "batch": batch_id, "sid": session_id, "pos": position,
                  "t": capture_type, "a": assessment_id, "at": extra.get("assessment_type"),
                  "key": f.storage_key, "ct": f.content_type, "size": f.size_bytes,
                  "sha": f.sha256, "name": f.original_filename}
                 for position, f in enumerate(frames)])
        return batch_id

    @classmethod
    def link_incremental_captures_to_assessment(
        cls, session_id: UUID, assessment_id: UUID, assessment_type: str,
    ) -> int:
        with transaction(cls.engine) as conn:
            result = conn.execute(text("""
                UPDATE captures SET assessment_id = :a, assessment_type = :t
                 WHERE session_id = :sid AND assessment_id IS NULL"""),
                {"sid": session_id, "a": assessment_id, "t": assessment_type})
        return int(result.rowcount)

    @classmethod
    def list_captures(cls, session_id: UUID) -> list[dict[str, Any]]:
        with transaction(cls.engine) as conn:
            rows = conn.execute(text("""
                SELECT id AS capture_id, batch_id, capture_type, assessment_id, assessment_type,
                       content_type, size_bytes, sha256, created_at
                  FROM captures WHERE session_id = :sid
                 ORDER BY created_at, batch_id, position"""), {"sid": session_id}).mappings().all()
        return [dict(r) for r in rows]

    @classmethod
    def get_capture(cls, session_id: UUID, capture_id: UUID) -> dict[str, Any] | None:
        with transaction(cls.engine) as conn:
            row = conn.execute(text(
                "SELECT storage_key, content_type, size_bytes, sha256 FROM captures "
                "WHERE id = :id AND session_id = :sid"),
                {"id": capture_id, "sid": session_id}).mappings().first()
        return dict(row) if row is not None else None
