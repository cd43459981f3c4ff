"""What a failing frame store means, for either app and any backend: full (507), or
unusable right now (503). A store's OSError is never the database's: before these, a full
disk answered 503 DATABASE_UNAVAILABLE while the database was fine."""

from __future__ import annotations

import errno
import logging
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assessment_core.errors import RETRY_AFTER_SECONDS, APIError

log = logging.getLogger(__name__)
FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class StorageError(APIError):
    """The frame store failed; the batch being written was discarded whole."""


def storage_full() -> StorageError:
    return StorageError(507, "STORAGE_FULL", "The frame store is full: nothing of this batch "
                        "was kept. The operator must free space; the answers and chats are "
                        "not affected.")


def storage_unavailable() -> StorageError:
    return StorageError(503, "STORAGE_UNAVAILABLE", "The frame store cannot be used right "
                        "now: nothing of this batch was kept; retry shortly.",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def storage_unavailable_because(error: BaseException) -> StorageError:
    log.error("the frame store failed: %s", error)
    return storage_unavailable()


def storage_error(error: OSError) -> StorageError:
    if error.errno in FULL:
        log.error("the frame store is full: %s", error)
        return storage_full()
    log.error("the frame store failed: %s", error)
    return storage_unavailable()


@contextmanager
def store_errors() -> Iterator[None]:
    """Around a store's I/O: its OSError becomes the store's own error."""
    try:
        yield
    except OSError as error:
        raise storage_error(error) from error


def probe_folder(root: Path, room: int) -> str:
    """A folder store's state for readiness: "full" when less than `room` bytes are free
    (the next upload could not be kept) or a small file cannot be written for lack of space,
    "unavailable" when it cannot be written at all, else "ok"."""
    probe = root / "tmp" / f"ready-{secrets.token_hex(8)}"
    try:
        if shutil.disk_usage(root).free < room:
            return "full"
        probe.write_bytes(b"ready")
        probe.unlink()
    except OSError as error:
        return "full" if error.errno in FULL else "unavailable"
    return "ok"
