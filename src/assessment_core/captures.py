"""Camera frames: the capture types, and what a frame is, judged by its first bytes only."""

from __future__ import annotations

from collections.abc import Mapping
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
