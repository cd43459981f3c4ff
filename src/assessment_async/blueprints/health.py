"""Liveness and readiness probes."""

from __future__ import annotations

import asyncio

from quart import Blueprint, ResponseReturnValue, current_app
from quart_schema import hide

from assessment_async.infra.db import get_db
from assessment_core.errors import RETRY_AFTER_SECONDS

bp = Blueprint("health", __name__)
READY_SECONDS = 1.0  # the database must answer within this to count as ready


@bp.get("/healthz")
@hide
async def healthz() -> ResponseReturnValue:
    """The process is up and serving; says nothing about the database."""
    return {"status": "ok"}


@bp.get("/readyz")
@hide
async def readyz() -> ResponseReturnValue:
    """Ready when the database answers a query within a second."""
    try:
        async with asyncio.timeout(READY_SECONDS):
            await get_db().ping()
    except Exception as error:  # any failure means: do not route traffic here
        body = {"status": "unavailable", "reason": f"database: {type(error).__name__}"}
        return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    # A full or failing frame store is said, not acted on: answers and chats still work, and
    # every replica shares the store, so taking this one out of service would help nothing.
    settings = current_app.extensions["settings"]
    storage = await current_app.extensions["storage"].check(settings.capture_max_request_bytes)
    return {"status": "ready", "storage": storage}
