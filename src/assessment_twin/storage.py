"""Frames on local disk, sync: the same folder layout and commit rules as the ASGI app's
(an upload starts under its key, is written to a temporary file, and is renamed to the key
at commit)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import BinaryIO

from assessment_core.storage_errors import probe_folder, store_errors


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
