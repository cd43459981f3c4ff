"""Receive a multipart upload as a stream on the ASGI app: each frame goes to storage as it
arrives (domain/frame_stream.py holds the rules). On any failure every temporary object of
the request is discarded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID

from assessment_async.infra.storage import Storage, Upload
from assessment_core.errors import APIError
from assessment_core.frame_stream import Block, Frame, FrameStream, UploadLimits

__all__ = ["Received", "UploadLimits", "receive_frames"]


@dataclass
class Received:
    frames: list[tuple[Frame, Upload]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    async def discard(self) -> None:
        await asyncio.gather(*(upload.discard() for _, upload in self.frames),
                             return_exceptions=True)


async def receive_frames(
    body: AsyncIterator[bytes], boundary: bytes, storage: Storage, limits: UploadLimits,
    session_id: UUID,
) -> Received:
    """Decode the whole body; frames end up in temporary storage objects, fields as text."""
    # SHA-256 runs in a pool thread beside the write: hashlib lets go of the GIL, and on the
    # loop it was a third of an upload's time there (docs/performance.md).
    stream = FrameStream(boundary, limits, hash_blocks=False)
    received = Received(fields=stream.fields)
    uploads: dict[int, Upload] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.total_timeout
    try:
        while not stream.done:
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + limits.idle_timeout)):
                    chunk: bytes | None = await anext(body)
            except StopAsyncIteration:
                chunk = None
            except TimeoutError:
                raise APIError(408, "BODY_TIMEOUT", "The upload arrived too slowly; send it "
                               "again on a better connection.") from None
            for event in stream.feed(chunk):
                if isinstance(event, Block):
                    frame = event.frame
                    upload = uploads.get(frame.number)
                    if upload is None:
                        # A frame's first block comes once its kind is known, so its key is
                        # too: an object store needs the key when the upload starts.
                        upload = await storage.start_upload(frame.key(session_id))
                        uploads[frame.number] = upload
                        received.frames.append((frame, upload))
                    await asyncio.gather(upload.write(event.data),
                                         asyncio.to_thread(frame.hasher.update, event.data))
        return received
    except BaseException:
        await received.discard()
        raise
