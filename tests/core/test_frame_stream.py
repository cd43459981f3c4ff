"""The multipart frame decoder on its own: blocks in order, hashed here or by the caller."""

from __future__ import annotations

import hashlib

import pytest

from assessment_core.frame_stream import Block, FrameStream, Started, UploadLimits
from tests.images import BOUNDARY, frame, multipart

LIMITS = UploadLimits(max_frame_bytes=10 << 20, max_request_bytes=64 << 20, max_frames=8,
                      idle_timeout=10, total_timeout=60)


def decode(stream: FrameStream, body: bytes, piece: int) -> list[Started | Block]:
    events: list[Started | Block] = []
    for start in range(0, len(body), piece):
        events += stream.feed(body[start:start + piece])
    events += stream.feed(None) if not stream.done else []
    return events


@pytest.mark.parametrize("piece", [4_096, 100_000])
@pytest.mark.parametrize("hash_blocks", [True, False])
def test_blocks_carry_every_byte_in_order_and_the_hash_is_of_them(
    hash_blocks: bool, piece: int,
) -> None:
    """About 300 KB per frame: several blocks each, gathered (small pieces) or passed on as
    they came (pieces over WRITE_BLOCK)."""
    images = [frame(size=(800, 600), seed=seed) for seed in (1, 2)]
    body, _ = multipart({"capture_type": "face"},
                        [("frames", f"{n}.jpg", "image/jpeg", data)
                         for n, data in enumerate(images)])
    stream = FrameStream(BOUNDARY.encode(), LIMITS, hash_blocks=hash_blocks)
    events = decode(stream, body, piece)
    frames = [event.frame for event in events if isinstance(event, Started)]
    assert len(frames) == 2 and stream.fields == {"capture_type": "face"}
    for found, data in zip(frames, images, strict=True):
        blocks = [event.data for event in events
                  if isinstance(event, Block) and event.frame is found]
        assert len(blocks) > 1 and b"".join(blocks) == data
        if not hash_blocks:  # the caller's part: every block, in order
            assert found.sha256 == hashlib.sha256(b"").hexdigest()
            for block in blocks:
                found.hasher.update(block)
        assert found.sha256 == hashlib.sha256(data).hexdigest()
