"""Where frames live, from STORAGE_URL: a folder, or an S3-compatible object store through
obstore (the Rust object_store crate: streamed multipart uploads, sync and async calls).

Both apps choose the same way and read the same settings; each wraps the calls in its own
concurrency (asyncio, or gevent's threadpool). An object store's failures are never the
database's: they answer 503 STORAGE_UNAVAILABLE.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from assessment_core.settings import Settings
from assessment_core.storage_errors import storage_unavailable_because

# Bounded, so a store that is down answers within seconds instead of obstore's default of
# ten retries over three minutes.
CLIENT_OPTIONS = {"connect_timeout": "2s", "timeout": "30s"}
RETRIES = {"max_retries": 2, "backoff": {"init_backoff": timedelta(milliseconds=100),
                                          "max_backoff": timedelta(seconds=1)},
           "retry_timeout": timedelta(seconds=5)}
READ_CHUNK = 256 * 1024


def folder(settings: Settings) -> Path | None:
    """The folder frames go to, or None when STORAGE_URL names an object store."""
    url = settings.storage_url
    if not url:
        return settings.capture_dir
    parts = urlsplit(url)
    if parts.scheme == "file":
        return Path(parts.path)
    if parts.scheme != "s3":
        raise ValueError(f"STORAGE_URL must be file:///path or s3://bucket/prefix, got {url!r}")
    return None


def open_store(settings: Settings) -> Any:
    """The obstore store of an s3:// STORAGE_URL, from the AWS variables. Made after the
    fork, in the worker that uses it: obstore's runtime is not fork-safe."""
    from obstore.store import S3Store

    assert settings.storage_url is not None
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
    options: dict[str, Any] = dict(CLIENT_OPTIONS)
    if endpoint and endpoint.startswith("http://"):
        options["allow_http"] = True  # MinIO or a test server on a private network
    store: Any = S3Store.from_url  # its stubs want TypedDicts; plain dicts are what it reads
    return store(settings.storage_url, client_options=options, retry_config=RETRIES)


@contextmanager
def object_store_errors() -> Iterator[None]:
    """Around an obstore call: its failure (the store unreachable, refusing, timing out)
    becomes STORAGE_UNAVAILABLE; a missing object stays FileNotFoundError for the caller."""
    from obstore.exceptions import BaseError

    try:
        yield
    except FileNotFoundError:
        raise
    except (BaseError, OSError) as error:  # obstore raises a plain OSError when refused
        raise storage_unavailable_because(error) from error
