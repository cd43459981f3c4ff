"""Log lines as JSON objects with the request's id; one setup for the CLI and ASGI servers.

What a line may hold: method, route, status, timings, ids, error codes. Never a body: no
answers, messages, tokens or frames reach the log at any level the app writes (tested).
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from assessment_core.settings import Settings

request_id: ContextVar[str] = ContextVar("request_id", default="-")

# A caller's id is kept when it looks like one (a proxy's or the frontend's), else replaced,
# so a header cannot smuggle line breaks or megabytes into the log.
_CALLER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


def request_id_from(header: str | None) -> str:
    if header and _CALLER_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request being served (or "-")."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Log to stderr (or `stream`) in the settings' format and level."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={
            "asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
