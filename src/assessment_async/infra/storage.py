"""Where frame bytes live: a small interface, and the local-folder implementation.

An upload starts under its server-made key, is written, then committed (or discarded). The
folder store writes a temporary file and renames it to the key at commit; an object store
(S3) maps the calls to a streamed upload to the key (write -> a part, commit -> complete,
discard -> abort, or delete once complete) and `read` to a streamed GET; the services and
routes do not change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import aiofiles
import aiofiles.os
import obstore
from aiofiles.threadpool.binary import AsyncBufferedIOBase

from assessment_core.object_store import READ_CHUNK, folder, object_store_errors, open_store
from assessment_core.settings import Settings
from assessment_core.storage_errors import probe_folder, store_errors


class Upload(Protocol):
    async def write(self, data: bytes) -> None: ...
    async def commit(self) -> None: ...
    async def discard(self) -> None: ...


class Storage(Protocol):
    async def start_upload(self, key: str) -> Upload: ...
    def read(self, key: str) -> AsyncIterator[bytes]: ...
    async def delete(self, key: str) -> None: ...
    async def exists(self, key: str) -> bool: ...
    async def check(self, room: int) -> str: ...
    def stored(self) -> AsyncIterator[tuple[str, datetime]]: ...


class LocalUpload:
    """A temporary file under <root>/tmp, fsynced and renamed into place on commit."""

    def __init__(self, root: Path, key: str, temp_path: Path,
                 handle: AsyncBufferedIOBase) -> None:
        self.root = root
        self.key = key
        self.temp_path = temp_path
        self.handle: AsyncBufferedIOBase | None = handle

    async def write(self, data: bytes) -> None:
        assert self.handle is not None
        with store_errors():
            await self.handle.write(data)

    async def commit(self) -> None:
        assert self.handle is not None
        with store_errors():
            await self.handle.flush()
            await asyncio.to_thread(os.fsync, self.handle.fileno())
            await self.handle.close()
            self.handle = None
            final = self.root / self.key
            await aiofiles.os.makedirs(final.parent, exist_ok=True)
            await aiofiles.os.rename(self.temp_path, final)
            # The rename is durable only once its folder is fsynced.
            await asyncio.to_thread(_fsync_dir, final.parent)

    async def discard(self) -> None:
        # Never raises (a full disk can fail the close of a file being thrown away).
        if self.handle is not None:
            handle, self.handle = self.handle, None
            with contextlib.suppress(OSError):
                await handle.close()
        with contextlib.suppress(OSError):
            await aiofiles.os.remove(self.temp_path)


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    async def start_upload(self, key: str) -> LocalUpload:
        temp_path = self.root / "tmp" / f"{secrets.token_hex(16)}.part"
        with store_errors():
            handle = await aiofiles.open(temp_path, "xb")
        return LocalUpload(self.root, key, temp_path, handle)

    async def check(self, room: int) -> str:
        """For readiness: "ok" when a file can be made and removed and `room` bytes (one
        upload at most) are free; "full" or "unavailable" otherwise."""
        return await asyncio.to_thread(probe_folder, self.root, room)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        async with aiofiles.open(self.root / key, "rb") as handle:
            while chunk := await handle.read(READ_CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        try:
            await aiofiles.os.remove(self.root / key)
        except FileNotFoundError:
            pass

    async def exists(self, key: str) -> bool:
        return bool(await aiofiles.os.path.exists(self.root / key))

    async def stored(self) -> AsyncIterator[tuple[str, datetime]]:
        """Every file's key and when it was last written, unfinished uploads (tmp/) too."""
        for path in await asyncio.to_thread(lambda: sorted(self.root.rglob("*"))):
            with contextlib.suppress(FileNotFoundError):  # committed or discarded since
                if path.is_file():
                    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
                    yield path.relative_to(self.root).as_posix(), modified


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ObjectUpload:
    """A frame streamed to its key in an object store: one PUT at commit when it fits in a
    part, else a multipart upload whose parts go out as they fill (obstore's writer)."""

    def __init__(self, store: Any, key: str, part_bytes: int) -> None:
        self.store, self.key = store, key
        self.writer: Any = obstore.open_writer_async(store, key, buffer_size=part_bytes,
                                                     max_concurrency=1)
        self.entered = False
        self.committed = False

    async def write(self, data: bytes) -> None:
        with object_store_errors():
            if not self.entered:
                await self.writer.__aenter__()
                self.entered = True
            await self.writer.write(data)

    async def commit(self) -> None:
        with object_store_errors():
            if not self.entered:
                await self.writer.__aenter__()
                self.entered = True
            await self.writer.__aexit__(None, None, None)  # completes the upload
        self.committed = True

    async def discard(self) -> None:
        # Never raises. Before commit: leaving the writer with an error aborts the upload
        # (nothing or its parts are dropped); after: the object is deleted.
        with contextlib.suppress(Exception):
            if self.committed:
                await obstore.delete_async(self.store, self.key)
            elif self.entered:
                failed = RuntimeError("upload discarded")
                await self.writer.__aexit__(RuntimeError, failed, None)


class ObjectStorage:
    """Frames in an S3-compatible store (STORAGE_URL=s3://bucket/prefix)."""

    def __init__(self, store: Any, part_bytes: int) -> None:
        self.store = store
        self.part_bytes = part_bytes

    async def start_upload(self, key: str) -> ObjectUpload:
        return ObjectUpload(self.store, key, self.part_bytes)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        with object_store_errors():
            result = await obstore.get_async(self.store, key)
        async for chunk in result.stream(min_chunk_size=READ_CHUNK):
            yield bytes(chunk)

    async def delete(self, key: str) -> None:
        with object_store_errors(), contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.store, key)

    async def exists(self, key: str) -> bool:
        try:
            with object_store_errors():
                await obstore.head_async(self.store, key)
        except FileNotFoundError:
            return False
        return True

    async def stored(self) -> AsyncIterator[tuple[str, datetime]]:
        """Every object's key and when it was last written (a multipart upload not yet
        completed is no object: the store's lifecycle rule removes its parts)."""
        with object_store_errors():
            async for batch in obstore.list(self.store, chunk_size=1000):
                for meta in batch:
                    yield meta["path"], meta["last_modified"]

    async def check(self, room: int) -> str:
        """For readiness: "ok" when the store answers (a probe key it does not have is an
        answer), "unavailable" otherwise. An object store is never full."""
        try:
            await obstore.head_async(self.store, "readyz-probe")
        except FileNotFoundError:
            return "ok"
        except Exception:
            return "unavailable"
        return "ok"


def open_storage(settings: Settings) -> Storage:
    """The store STORAGE_URL names: a folder, or an S3-compatible object store."""
    root = folder(settings)
    if root is not None:
        return LocalStorage(root)
    return ObjectStorage(open_store(settings), settings.storage_part_bytes)
