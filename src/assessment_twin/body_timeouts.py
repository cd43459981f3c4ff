"""The ASGI app's body timeouts, for the twin (TWIN_BODY_TIMEOUTS): a JSON body must arrive
within BODY_TIMEOUT, an upload within UPLOAD_TIMEOUT with no pause longer than
UPLOAD_IDLE_TIMEOUT; past either, 408 BODY_TIMEOUT. Gunicorn has no such setting (its
`timeout` is the worker's heartbeat, off here), so a slowloris body holds a greenlet or a
thread for as long as the client likes; the plan does not add one.

WSGI middleware: the client's socket (Gunicorn puts it in the environ) waits at most the idle
time for each read. Under gevent the whole body's deadline interrupts a read as it passes (a
gevent.Timeout); under threads it is checked between reads only, so a body that trickles in
steadily, never pausing past the idle time, is cut only there. Once the body is read, the
socket waits as long as it did before, so a slow download is not cut.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from assessment_core.errors import APIError
from assessment_core.settings import Settings

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
TIMED_OUT = "assessment.body_timed_out"  # environ flag: do not drain what never came


def body_timeout() -> APIError:
    return APIError(408, "BODY_TIMEOUT", "The request body arrived too slowly; send it again "
                    "on a better connection.")


class DeadlineInput:
    """wsgi.input whose reads raise 408 once the body's deadline passes or one read waits
    longer than the socket's timeout."""

    def __init__(self, raw: Any, environ: dict[str, Any], total: float) -> None:
        self.raw = raw
        self.environ = environ
        self.deadline = time.monotonic() + total
        self.green = green()

    def _call(self, method: str, *args: Any) -> Any:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            self._timed_out()
        try:
            if self.green:
                import gevent

                with gevent.Timeout(remaining, TimeoutError):
                    return getattr(self.raw, method)(*args)
            return getattr(self.raw, method)(*args)
        except TimeoutError:  # the deadline, or one read waited past the idle time
            self._timed_out()

    def _timed_out(self) -> None:
        self.environ[TIMED_OUT] = True
        raise body_timeout()

    def read(self, *args: Any) -> bytes:
        data: bytes = self._call("read", *args)
        return data

    def readline(self, *args: Any) -> bytes:
        data: bytes = self._call("readline", *args)
        return data

    def readlines(self, *args: Any) -> list[bytes]:
        lines: list[bytes] = self._call("readlines", *args)
        return lines

    def __iter__(self) -> Any:
        return iter(self.readline, b"")


def green() -> bool:
    """Serving under gevent (its worker patched the socket module)?"""
    try:
        from gevent import monkey
    except ImportError:
        return False
    return bool(monkey.is_module_patched("socket"))


class BodyTimeouts:
    def __init__(self, app: WSGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 ) -> Iterable[bytes]:
        has_body = environ.get("CONTENT_LENGTH") not in (None, "", "0") \
            or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not has_body:
            return self.app(environ, start_response)
        s = self.settings
        upload = environ.get("CONTENT_TYPE", "").startswith("multipart/")
        idle, total = (s.upload_idle_timeout, s.upload_timeout) if upload \
            else (s.body_timeout, s.body_timeout)
        # Gunicorn's (gevent's own socket under the gevent worker, where a timeout yields).
        sock = environ.get("gunicorn.socket")
        if not hasattr(sock, "settimeout"):
            sock = None
        before = sock.gettimeout() if sock is not None else None
        if sock is not None:
            sock.settimeout(idle)
        environ["wsgi.input"] = DeadlineInput(environ["wsgi.input"], environ, total)
        try:
            return self.app(environ, start_response)
        finally:
            # After a timeout the socket keeps it: Gunicorn's drain of the unread rest of
            # the body then gives up as quickly, and the connection is closed.
            if sock is not None and not environ.get(TIMED_OUT):
                sock.settimeout(before)
