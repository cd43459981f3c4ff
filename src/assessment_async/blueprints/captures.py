"""Camera captures: upload a batch of frames, link them to an assessment, list, download."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from quart import Blueprint, Response, ResponseReturnValue, current_app, request
from quart_schema import DataSource, document_request, document_response, validate_request

from assessment_async.http.auth import bearer_hash, require_session
from assessment_async.http.openapi import document_body, document_response_headers
from assessment_async.http.uploads import UploadLimits, receive_frames
from assessment_async.infra.db import get_db
from assessment_async.infra.storage import Storage
from assessment_async.services import captures
from assessment_core.captures import (
    batch_body,
    invalid,
    no_assessment,
    upload_boundary,
    upload_fields,
)
from assessment_core.errors import APIError
from assessment_core.models import BatchOut, CaptureOut, CaptureUpload, LinkIn, LinkOut
from assessment_core.settings import Settings

bp = Blueprint("captures", __name__, url_prefix="/api/sessions/<uuid:sid>/captures")

def storage() -> Storage:
    value: Storage = current_app.extensions["storage"]
    return value


@bp.post("")
@document_request(CaptureUpload, source=DataSource.FORM_MULTIPART)
@document_response(BatchOut, 201)
async def create_batch_capture_with_assessment_id(sid: UUID) -> ResponseReturnValue:
    """Upload frames (multipart: `frames` files, `capture_type`, optional `assessment_id`)."""
    settings: Settings = current_app.extensions["settings"]
    token_hash = bearer_hash()
    boundary = upload_boundary(request.mimetype, request.mimetype_params,
                               request.content_length, settings.capture_max_request_bytes)
    db = get_db()
    async with db.connection() as conn:
        await require_session(conn, sid, token_hash)
    received = await receive_frames(request.body, boundary, storage(),
                                    UploadLimits.from_settings(settings), sid)
    committed: list[str] = []
    try:
        capture_type, assessment_id = upload_fields(len(received.frames), received.fields)
        assessment_type = None
        if assessment_id is not None:
            async with db.connection() as conn:
                assessment_type = await captures.select_assessment_instrument(
                    conn, sid, assessment_id)
            if assessment_type is None:
                raise no_assessment(assessment_id)
        frames = [frame.stored(sid) for frame, _ in received.frames]
        for stored, (_, upload) in zip(frames, received.frames, strict=True):
            await upload.commit()
            committed.append(stored.storage_key)
        # Rows only after every file is complete, fsynced and in place.
        async with db.connection() as conn:
            batch_id = await captures.insert_batch(conn, sid, capture_type, assessment_id,
                                                   assessment_type, frames)
    except BaseException:
        await received.discard()
        await asyncio.gather(*(storage().delete(key) for key in committed),
                             return_exceptions=True)
        raise
    return batch_body(batch_id, frames), 201


@bp.post("/link")
@validate_request(LinkIn)
@document_response(LinkOut)
async def link_incremental_captures_to_assessment(sid: UUID, data: LinkIn) -> ResponseReturnValue:
    """Link the session's frames that have no assessment yet; a repeat links nothing new."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        instrument = await captures.select_assessment_instrument(conn, sid, data.assessment_id)
        if instrument is None:
            raise no_assessment(data.assessment_id)
        if instrument != data.assessment_type:
            raise invalid("assessment_type", f"Assessment {data.assessment_id} is a "
                          f"{instrument}, not a {data.assessment_type}.")
        linked = await captures.link_unlinked(conn, sid, data.assessment_id, instrument)
    return {"linked": linked}


@bp.get("")
@document_response(list[CaptureOut])
async def list_captures(sid: UUID) -> ResponseReturnValue:
    """The session's frames, oldest first."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await captures.select_captures(conn, sid)
    return [dict(row) for row in rows]


@bp.get("/<uuid:capture_id>")
@document_body(200, "image/jpeg", {"type": "string", "format": "binary"}, "The frame's bytes.")
@document_body(200, "image/png", {"type": "string", "format": "binary"}, "The frame's bytes.")
@document_response_headers(200, {
    "ETag": {"required": True, "description": "The frame's sha256, quoted.",
             "schema": {"type": "string", "pattern": '^"[0-9a-f]{64}"$'}},
    "Content-Length": {"required": True, "schema": {"type": "integer", "minimum": 1}},
})
async def get_capture(sid: UUID, capture_id: UUID) -> ResponseReturnValue:
    """The frame's bytes, streamed from storage, with its content type."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        row = await captures.select_capture(conn, sid, capture_id)
    if row is None:
        raise APIError(404, "CAPTURE_NOT_FOUND", f"This session has no capture {capture_id}.")
    headers: dict[str, Any] = {"Content-Length": str(row["size_bytes"]),
                               "ETag": f'"{row["sha256"]}"',
                               "Cache-Control": "no-store",  # a face image: never cached
                               "X-Content-Type-Options": "nosniff"}
    return Response(storage().read(row["storage_key"]), mimetype=row["content_type"],
                    headers=headers)
