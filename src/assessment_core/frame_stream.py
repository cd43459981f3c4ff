"""A multipart upload of frames, decoded without I/O: bytes in, checked frame events out.

Both apps drive it: the ASGI app from an async body into async storage, the twin from a WSGI
stream into files. Every rule of an upload lives here: which fields exist, the magic bytes,
the caps, the hashing (here, or by the caller off its event loop), the write blocks, and what
counts as truncated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID, uuid4

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from assessment_core.captures import SNIFF_BYTES, StoredFrame, sniff, storage_key
from assessment_core.errors import APIError
from assessment_core.settings import Settings

WRITE_BLOCK = 64 * 1024
MAX_FIELD_BYTES = 1024
FRAME_FIELD = "frames"
UPLOAD_FIELDS = ("capture_type", "assessment_id")


CONTROL_CHARACTERS = dict.fromkeys([*range(0x20), 0x7F])


@dataclass(frozen=True)
class UploadLimits:
    max_frame_bytes: int
    max_request_bytes: int
    max_frames: int
    idle_timeout: float  # longest wait for the next piece of the body
    total_timeout: float  # longest the whole body may take

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(settings.capture_max_frame_bytes, settings.capture_max_request_bytes,
                   settings.capture_max_frames, settings.upload_idle_timeout,
                   settings.upload_timeout)


@dataclass
class Frame:
    filename: str
    number: int
    capture_id: UUID = field(default_factory=uuid4)
    content_type: str | None = None
    size: int = 0
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    head: bytes = b""
    pending: bytearray = field(default_factory=bytearray)

    @property
    def sha256(self) -> str:
        return self.hasher.hexdigest()

    def stored(self, session_id: UUID) -> StoredFrame:
        """This frame, checked and complete, as its row will hold it."""
        assert self.content_type is not None, "a frame's kind is known once it is complete"
        return StoredFrame(self.capture_id, self.key(session_id), self.content_type,
                           self.size, self.sha256, self.display_name)

    def key(self, session_id: UUID) -> str:
        """Where the frame is stored: known from its first Block on (its kind is sniffed from
        the head, and a Block comes only after it)."""
        assert self.content_type is not None, "a frame's kind is known by its first block"
        return storage_key(session_id, self.capture_id, self.content_type)

    @property
    def display_name(self) -> str | None:
        """The client's filename as kept for display: no control characters (PostgreSQL
        cannot store NUL), at most 255 characters, None when nothing is left."""
        return self.filename.translate(CONTROL_CHARACTERS)[:255] or None


@dataclass(frozen=True)
class Started:
    frame: Frame


@dataclass(frozen=True)
class Block:
    """Bytes of a frame to write, in blocks of about WRITE_BLOCK."""

    frame: Frame
    data: bytes


Event = Started | Block


class FrameStream:
    def __init__(self, boundary: bytes, limits: UploadLimits, *,
                 hash_blocks: bool = True) -> None:
        """Decode one upload's body, hashing its frames unless told not to.

        `hash_blocks=False` leaves hashing to the caller, who must pass every Block's data to
        `block.frame.hasher.update` in order (the ASGI app does it off the event loop).
        """
        self.limits = limits
        self.hash_blocks = hash_blocks
        # Also bounds repeated fields: thousands of tiny parts stop at the first over the count.
        self.decoder = MultipartDecoder(boundary, max_parts=limits.max_frames + len(UPLOAD_FIELDS))
        self.frames: list[Frame] = []
        self.fields: dict[str, str] = {}
        self.done = False
        self.received = 0
        self._current: Frame | bytearray | None = None
        self._field_name = ""

    def feed(self, chunk: bytes | None) -> Iterator[Event]:
        """Events for this chunk of the body (None: the body ended); APIError on a violation."""
        try:
            if chunk is None:
                self.decoder.receive_data(None)
            else:
                self.received += len(chunk)
                if self.received > self.limits.max_request_bytes:
                    raise too_large(f"An upload may carry at most {self.limits.max_request_bytes}"
                                    " bytes; send fewer frames per request.")
                self.decoder.receive_data(chunk)
            while not isinstance(event := self.decoder.next_event(), NeedData):
                yield from self._handle(event)
                if self.done:
                    return
            if chunk is None:
                raise ValueError("the body ended before the closing boundary")
        except RequestEntityTooLarge:
            raise too_large(f"An upload may carry at most {self.limits.max_frames} "
                            "frames.") from None
        except ValueError as error:
            raise APIError(400, "MALFORMED_MULTIPART", f"The multipart body is truncated or "
                           f"malformed ({error}); send it again whole.") from None

    def _handle(self, event: object) -> Iterator[Event]:
        if isinstance(event, File):
            if event.name != FRAME_FIELD:
                raise bad_field(event.name, f"files go in the '{FRAME_FIELD}' field")
            if len(self.frames) >= self.limits.max_frames:
                raise RequestEntityTooLarge()
            frame = Frame(event.filename, len(self.frames) + 1)
            self.frames.append(frame)
            self._current = frame
            yield Started(frame)
        elif isinstance(event, Field):
            if event.name not in UPLOAD_FIELDS:
                raise bad_field(event.name, f"known fields: {', '.join(UPLOAD_FIELDS)}")
            self._current, self._field_name = bytearray(), event.name
        elif isinstance(event, Data):
            current = self._current
            if isinstance(current, Frame):
                yield from self._frame_data(current, event.data, event.more_data)
            elif isinstance(current, bytearray):
                current += event.data
                if len(current) > MAX_FIELD_BYTES:
                    raise bad_field(self._field_name, f"at most {MAX_FIELD_BYTES} bytes")
                if not event.more_data:
                    self.fields[self._field_name] = decode_field(self._field_name, current)
        elif isinstance(event, Epilogue):
            self.done = True

    def _frame_data(self, frame: Frame, data: bytes, more: bool) -> Iterator[Event]:
        frame.size += len(data)
        if frame.size > self.limits.max_frame_bytes:
            raise too_large(f"Frame {frame.number} ({frame.filename!r}) is over the "
                            f"{self.limits.max_frame_bytes}-byte limit per frame.")
        if frame.content_type is None and len(frame.head) < SNIFF_BYTES:
            frame.head += data[: SNIFF_BYTES - len(frame.head)]
            if len(frame.head) >= SNIFF_BYTES:
                check_kind(frame)
        if self.hash_blocks:
            frame.hasher.update(data)
        if more and not frame.pending and len(data) >= WRITE_BLOCK:
            # A piece this large goes to storage as it is: gathering it into `pending` first
            # would hold two more copies of it per upload.
            yield Block(frame, data)
            return
        frame.pending += data
        if not more:
            if frame.size == 0:
                raise APIError(422, "VALIDATION_ERROR", f"Frame {frame.number} "
                               f"({frame.filename!r}) is empty.",
                               [{"field": FRAME_FIELD, "message": "empty file"}])
            if frame.content_type is None:
                check_kind(frame)
        if frame.pending and (len(frame.pending) >= WRITE_BLOCK or not more):
            block = bytes(frame.pending)
            frame.pending.clear()
            yield Block(frame, block)


def check_kind(frame: Frame) -> None:
    frame.content_type = sniff(frame.head)
    if frame.content_type is None:
        raise APIError(415, "UNSUPPORTED_MEDIA_TYPE", f"Frame {frame.number} "
                       f"({frame.filename!r}) is not a JPEG or PNG image, whatever its name or "
                       "declared type says.")


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
