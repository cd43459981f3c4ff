"""Camera frames: the capture types, and what a frame is, judged by its first bytes only."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from assessment_core.errors import APIError

# What the frontend's camera captures during an assessment.
CAPTURE_TYPES = ("face", "posture", "environment")

# Magic numbers: a frame is what its bytes say, whatever its name or declared type.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
)
SNIFF_BYTES = max(len(magic) for magic, _, _ in SIGNATURES)
EXTENSIONS = {content_type: ext for _, content_type, ext in SIGNATURES}


def storage_key(session_id: UUID, capture_id: UUID, content_type: str) -> str:
    """Where a frame's bytes live in storage: a server-made name, never the client's."""
    return f"{session_id}/{capture_id}.{EXTENSIONS[content_type]}"


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove (JPEG or PNG), else None."""
    for magic, content_type, _ in SIGNATURES:
        if head.startswith(magic):
            return content_type
    return None


def invalid(field: str, message: str) -> APIError:
    return APIError(422, "VALIDATION_ERROR", message, [{"field": field, "message": message}])


def upload_fields(frame_count: int, fields: dict[str, str]) -> tuple[str, UUID | None]:
    """An upload's capture_type and optional assessment_id, checked; 422 naming the field."""
    if not frame_count:
        raise invalid("frames", "Send at least one frame in the 'frames' field.")
    capture_type = fields.get("capture_type")
    if capture_type not in CAPTURE_TYPES:
        raise invalid("capture_type", f"capture_type must be one of {', '.join(CAPTURE_TYPES)}"
                      f"; got {capture_type!r}.")
    raw = fields.get("assessment_id")
    try:
        return capture_type, UUID(raw) if raw else None
    except ValueError:
        raise invalid("assessment_id", f"assessment_id must be a UUID; got {raw!r}.") from None


def no_assessment(assessment_id: UUID) -> APIError:
    return invalid("assessment_id", f"This session has no assessment {assessment_id}.")


def upload_boundary(mimetype: str, params: Mapping[str, str], content_length: int | None,
                    max_bytes: int) -> bytes:
    """The multipart boundary of an upload request, after its headers were checked."""
    if mimetype != "multipart/form-data":
        raise APIError(415, "UNSUPPORTED_MEDIA_TYPE", "Send frames as multipart/form-data.")
    boundary = params.get("boundary", "").encode("latin-1")
    if not boundary:
        raise APIError(400, "MALFORMED_MULTIPART", "The Content-Type has no boundary.")
    if (content_length or 0) > max_bytes:
        raise APIError(413, "PAYLOAD_TOO_LARGE", f"An upload may carry at most {max_bytes} "
                       "bytes.")
    return boundary


@dataclass(frozen=True)
class StoredFrame:
    """A frame whose object is complete in storage, ready for its row."""

    capture_id: UUID
    storage_key: str
    content_type: str
    size_bytes: int
    sha256: str
    original_filename: str | None


def frame_rows(batch_id: UUID, session_id: UUID, capture_type: str, assessment_id: UUID | None,
               assessment_type: str | None,
               frames: Sequence[StoredFrame]) -> Iterator[dict[str, Any]]:
    """The values of SQL.insert_capture for each frame of a batch, in the order sent."""
    for position, frame in enumerate(frames):
        yield {"id": frame.capture_id, "batch_id": batch_id, "session_id": session_id,
               "position": position, "capture_type": capture_type,
               "assessment_id": assessment_id, "assessment_type": assessment_type,
               "storage_key": frame.storage_key, "content_type": frame.content_type,
               "size_bytes": frame.size_bytes, "sha256": frame.sha256,
               "original_filename": frame.original_filename}


def batch_body(batch_id: UUID, frames: Sequence[StoredFrame]) -> dict[str, Any]:
    """The answer to an upload: the batch and, per frame, what was stored."""
    return {"batch_id": batch_id, "captures": [
        {"capture_id": f.capture_id, "size_bytes": f.size_bytes, "sha256": f.sha256,
         "content_type": f.content_type} for f in frames]}
