"""Camera frames: the capture types, and what a frame is, judged by its first bytes only."""

from __future__ import annotations

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
