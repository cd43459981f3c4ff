"""CameraAssessmentService: capture batches and linking, sync."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import Engine

from assessment_core.captures import StoredFrame, frame_rows
from assessment_core.sql import SQL
from assessment_twin.db import execute, executemany, fetch, fetchrow, fetchval, single, transaction


class CameraAssessmentService:
    engine: Engine

    @classmethod
    def assessment_instrument(cls, session_id: UUID, assessment_id: UUID) -> str | None:
        with single(cls.engine) as conn:
            instrument: str | None = fetchval(conn, SQL.select_assessment_instrument,
                                              assessment_id=assessment_id,
                                              session_id=session_id)
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
            execute(conn, SQL.insert_batch, id=batch_id, session_id=session_id,
                    capture_type=capture_type, assessment_id=assessment_id)
            executemany(conn, SQL.insert_capture,
                        frame_rows(batch_id, session_id, capture_type, assessment_id,
                                   extra.get("assessment_type"), frames))
        return batch_id

    @classmethod
    def link_incremental_captures_to_assessment(
        cls, session_id: UUID, assessment_id: UUID, assessment_type: str,
    ) -> int:
        with single(cls.engine) as conn:
            return execute(conn, SQL.link_unlinked, session_id=session_id,
                           assessment_id=assessment_id, assessment_type=assessment_type)

    @classmethod
    def list_captures(cls, session_id: UUID) -> list[dict[str, Any]]:
        with single(cls.engine) as conn:
            return fetch(conn, SQL.select_captures, session_id=session_id)

    @classmethod
    def get_capture(cls, session_id: UUID, capture_id: UUID) -> dict[str, Any] | None:
        with single(cls.engine) as conn:
            return fetchrow(conn, SQL.select_capture, capture_id=capture_id,
                            session_id=session_id)
