"""Receive a multipart upload as a stream: each frame goes to storage as it arrives.

Nothing is held whole in memory: parts are decoded incrementally (werkzeug's sans-I/O
decoder), frames are checked by their magic bytes, hashed and size-capped on the way, and
written in blocks. On any failure every temporary object of the request is discarded.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from assessment_async.domain.captures import SNIFF_BYTES, sniff
from assessment_async.errors import APIError
from assessment_async.storage import Storage, Upload

WRITE_BLOCK = 256 * 1024
MAX_FIELD_BYTES = 1024
FRAME_FIELD = "frames"


@dataclass(frozen=True)
class UploadLimits:
    max_frame_bytes: int
    max_request_bytes: int
    max_frames: int
    idle_timeout: float  # longest wait for the next piece of the body
    total_timeout: float  # longest the whole body may take


@dataclass
class Frame:
    upload: Upload
    filename: str
    capture_id: UUID = field(default_factory=uuid4)
    content_type: str | None = None
    size: int = 0
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    head: bytes = b""
    pending: bytearray = field(default_factory=bytearray)


@dataclass
class Received:
    frames: list[Frame] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    async def discard(self) -> None:
        await asyncio.gather(*(frame.upload.discard() for frame in self.frames),
                             return_exceptions=True)


async def receive_frames(
    body: AsyncIterator[bytes], boundary: bytes, storage: Storage, limits: UploadLimits,
    allowed_fields: tuple[str, ...],
) -> Received:
    """Decode the whole body; frames end up in temporary storage objects, fields as text."""
    received = Received()
    # Also bounds repeated fields: thousands of tiny parts stop at the first over the count.
    decoder = MultipartDecoder(boundary, max_parts=limits.max_frames + len(allowed_fields))
    current: Frame | bytearray | None = None
    field_name = ""
    total = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limits.total_timeout
    try:
        while True:
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + limits.idle_timeout)):
                    chunk = await anext(body)
            except StopAsyncIteration:
                decoder.receive_data(None)
                chunk = None
            except TimeoutError:
                raise APIError(408, "BODY_TIMEOUT", "The upload arrived too slowly; send it "
                               "again on a better connection.") from None
            if chunk is not None:
                total += len(chunk)
                if total > limits.max_request_bytes:
                    raise too_large(f"An upload may carry at most {limits.max_request_bytes} "
                                    "bytes; send fewer frames per request.")
                decoder.receive_data(chunk)
            while not isinstance(event := decoder.next_event(), NeedData):
                if isinstance(event, File):
                    if event.name != FRAME_FIELD:
                        raise bad_field(event.name, f"files go in the '{FRAME_FIELD}' field")
                    if len(received.frames) >= limits.max_frames:
                        raise RequestEntityTooLarge()
                    current = Frame(await storage.start_upload(), event.filename)
                    received.frames.append(current)
                elif isinstance(event, Field):
                    if event.name not in allowed_fields:
                        raise bad_field(event.name, f"known fields: {', '.join(allowed_fields)}")
                    current, field_name = bytearray(), event.name
                elif isinstance(event, Data):
                    if isinstance(current, Frame):
                        await take_frame_data(current, event.data, limits, len(received.frames))
                        if not event.more_data:
                            await finish_frame(current, len(received.frames))
                    elif isinstance(current, bytearray):
                        current += event.data
                        if len(current) > MAX_FIELD_BYTES:
                            raise bad_field(field_name, f"at most {MAX_FIELD_BYTES} bytes")
                        if not event.more_data:
                            received.fields[field_name] = decode_field(field_name, current)
                elif isinstance(event, Epilogue):
                    return received
            if chunk is None:
                raise ValueError("the body ended before the closing boundary")
    except RequestEntityTooLarge:
        await received.discard()
        raise too_large(f"An upload may carry at most {limits.max_frames} frames.") from None
    except ValueError as error:
        await received.discard()
        raise APIError(400, "MALFORMED_MULTIPART", f"The multipart body is truncated or "
                       f"malformed ({error}); send it again whole.") from None
    except BaseException:
        await received.discard()
        raise


async def take_frame_data(frame: Frame, data: bytes, limits: UploadLimits, number: int) -> None:
    frame.size += len(data)
    if frame.size > limits.max_frame_bytes:
        raise too_large(f"Frame {number} ({frame.filename!r}) is over the "
                        f"{limits.max_frame_bytes}-byte limit per frame.")
    if frame.content_type is None and len(frame.head) < SNIFF_BYTES:
        frame.head += data[: SNIFF_BYTES - len(frame.head)]
        if len(frame.head) >= SNIFF_BYTES:
            check_kind(frame, number)
    frame.hasher.update(data)
    frame.pending += data
    if len(frame.pending) >= WRITE_BLOCK:
        await frame.upload.write(bytes(frame.pending))
        frame.pending.clear()


async def finish_frame(frame: Frame, number: int) -> None:
    if frame.size == 0:
        raise APIError(422, "VALIDATION_ERROR", f"Frame {number} ({frame.filename!r}) is empty.",
                       [{"field": FRAME_FIELD, "message": "empty file"}])
    if frame.content_type is None:
        check_kind(frame, number)
    if frame.pending:
        await frame.upload.write(bytes(frame.pending))
        frame.pending.clear()


def check_kind(frame: Frame, number: int) -> None:
    frame.content_type = sniff(frame.head)
    if frame.content_type is None:
        raise APIError(415, "UNSUPPORTED_MEDIA_TYPE", f"Frame {number} ({frame.filename!r}) is "
                       "not a JPEG or PNG image, whatever its name or declared type says.")


def decode_field(name: str, raw: bytearray) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_field(name, "not valid UTF-8") from None


def bad_field(name: str, message: str) -> APIError:
    return APIError(422, "VALIDATION_ERROR", f"Unexpected or invalid field {name!r}: {message}.",
                    [{"field": name, "message": message}])


def too_large(message: str) -> APIError:
    return APIError(413, "PAYLOAD_TOO_LARGE", message)
