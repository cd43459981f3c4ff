"""Frames on local disk, sync: the same folder layout and commit rules as the ASGI app's
(an upload starts under its key, is written to a temporary file, and is renamed to the key
at commit)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

import obstore
from flask import Response, send_file

from assessment_core.object_store import READ_CHUNK, folder, object_store_errors, open_store
from assessment_core.settings import Settings
from assessment_core.storage_errors import probe_folder, store_errors

T = TypeVar("T")


class SyncUpload:
    def __init__(self, root: Path, key: str) -> None:
        self.root = root
        self.key = key
        self.temp_path = root / "tmp" / f"{secrets.token_hex(16)}.part"
        with store_errors():
            self.handle: BinaryIO | None = open(self.temp_path, "xb")

    def write(self, data: bytes) -> None:
        assert self.handle is not None
        with store_errors():
            self.handle.write(data)

    def commit(self) -> None:
        assert self.handle is not None
        with store_errors():
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            self.handle = None
            final = self.root / self.key
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(self.temp_path, final)
            fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def discard(self) -> None:
        # Never raises: it runs while another error is on its way to the client, and a
        # full disk can fail the close of a file that is being thrown away anyway.
        if self.handle is not None:
            handle, self.handle = self.handle, None
            with contextlib.suppress(OSError):
                handle.close()
        with contextlib.suppress(OSError):
            self.temp_path.unlink(missing_ok=True)


class SyncLocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)

    def start_upload(self, key: str) -> SyncUpload:
        return SyncUpload(self.root, key)

    def path(self, key: str) -> Path:
        return self.root / key

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def check(self, room: int) -> str:
        """For readiness: "ok", "full" or "unavailable" (storage_errors.probe_folder)."""
        return probe_folder(self.root, room)

    def response(self, key: str, mimetype: str, sha256: str) -> Response:
        return send_file(self.root / key, mimetype=mimetype, etag=sha256, conditional=False)


def offload(call: Callable[..., T], *args: Any) -> T:
    """Run a blocking obstore call. Under gevent's patching it goes to gevent's threadpool:
    obstore is Rust, so a call blocks its OS thread, which would stall every greenlet of the
    worker (it lets go of the GIL, so the pool's threads do overlap). Under gthread it runs
    in the request's own thread."""
    from gevent import monkey

    if monkey.is_module_patched("socket"):
        import gevent

        return cast(T, gevent.get_hub().threadpool.apply(call, args))
    return call(*args)


class SyncObjectUpload:
    """A frame streamed to its key in an object store (the ASGI app's ObjectUpload)."""

    def __init__(self, store: Any, key: str, part_bytes: int) -> None:
        self.store, self.key = store, key
        self.writer: Any = obstore.open_writer(store, key, buffer_size=part_bytes,
                                               max_concurrency=1)
        self.entered = False
        self.committed = False

    def _enter(self) -> None:
        if not self.entered:
            offload(self.writer.__enter__)
            self.entered = True

    def write(self, data: bytes) -> None:
        with object_store_errors():
            self._enter()
            offload(self.writer.write, data)

    def commit(self) -> None:
        with object_store_errors():
            self._enter()
            offload(self.writer.__exit__, None, None, None)  # completes the upload
        self.committed = True

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # never raises (see SyncUpload.discard)
            if self.committed:
                offload(obstore.delete, self.store, self.key)
            elif self.entered:
                failed = RuntimeError("upload discarded")
                offload(self.writer.__exit__, RuntimeError, failed, None)  # aborts


class SyncObjectStorage:
    """Frames in an S3-compatible store (STORAGE_URL=s3://bucket/prefix)."""

    def __init__(self, store: Any, part_bytes: int) -> None:
        self.store = store
        self.part_bytes = part_bytes

    def start_upload(self, key: str) -> SyncObjectUpload:
        return SyncObjectUpload(self.store, key, self.part_bytes)

    def delete(self, key: str) -> None:
        with object_store_errors(), contextlib.suppress(FileNotFoundError):
            offload(obstore.delete, self.store, key)

    def check(self, room: int) -> str:
        """For readiness: "ok" when the store answers, "unavailable" otherwise."""
        try:
            offload(obstore.head, self.store, "readyz-probe")
        except FileNotFoundError:
            return "ok"
        except Exception:
            return "unavailable"
        return "ok"

    def response(self, key: str, mimetype: str, sha256: str) -> Response:
        """The object streamed back in chunks of READ_CHUNK, never whole in memory."""
        with object_store_errors():
            result = offload(obstore.get, self.store, key)
        chunks = result.stream(min_chunk_size=READ_CHUNK)

        def body() -> Iterator[bytes]:
            while (chunk := offload(next, chunks, None)) is not None:
                yield bytes(chunk)

        return Response(body(), mimetype=mimetype,
                        headers={"Content-Length": str(result.meta["size"]),
                                 "ETag": f'"{sha256}"'})


Storage = SyncLocalStorage | SyncObjectStorage
Upload = SyncUpload | SyncObjectUpload


def open_storage(settings: Settings) -> Storage:
    """The store STORAGE_URL names: a folder, or an S3-compatible object store. Called in
    the worker, after the fork."""
    root = folder(settings)
    if root is not None:
        return SyncLocalStorage(root)
    return SyncObjectStorage(open_store(settings), settings.storage_part_bytes)
