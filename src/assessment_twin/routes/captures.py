"""Camera captures: frames streamed from the WSGI input to disk, linked, listed, downloaded."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, request

from assessment_core.captures import (
    batch_body,
    invalid,
    no_assessment,
    upload_boundary,
    upload_fields,
)
from assessment_core.errors import APIError
from assessment_core.frame_stream import Block, Frame, FrameStream, UploadLimits
from assessment_core.models import LinkIn
from assessment_core.settings import Settings
from assessment_twin import phase2
from assessment_twin.http import bearer_hash, json_body, require_session
from assessment_twin.phase2 import call
from assessment_twin.services.camera import CameraAssessmentService
from assessment_twin.storage import Storage, Upload

bp = Blueprint("captures", __name__, url_prefix="/api/sessions/<uuid:sid>/captures")
READ_SIZE = 64 * 1024


def receive(boundary: bytes, storage: Storage, limits: UploadLimits,
            session_id: UUID) -> tuple[list[tuple[Frame, Upload]], dict[str, str]]:
    """Decode the body as it is read; frames land in temporary files (removed on failure)."""
    stream = FrameStream(boundary, limits)
    frames: list[tuple[Frame, Upload]] = []
    uploads: dict[int, Upload] = {}
    try:
        while not stream.done:
            chunk = request.stream.read(READ_SIZE) or None
            for event in stream.feed(chunk):
                if isinstance(event, Block):
                    upload = uploads.get(event.frame.number)
                    if upload is None:  # the first block: the frame's kind and key are known
                        upload = storage.start_upload(event.frame.key(session_id))
                        uploads[event.frame.number] = upload
                        frames.append((event.frame, upload))
                    upload.write(event.data)
        return frames, stream.fields
    except BaseException:
        for _, upload in frames:
            upload.discard()
        raise


@bp.post("")
def create_batch_capture_with_assessment_id(sid: UUID) -> Any:
    settings: Settings = current_app.config["SETTINGS"]
    storage: Storage = current_app.extensions["storage"]
    token_hash = bearer_hash()
    boundary = upload_boundary(request.mimetype, request.mimetype_params,
                               request.content_length, settings.capture_max_request_bytes)
    require_session(sid, token_hash)
    frames, fields = receive(boundary, storage, UploadLimits.from_settings(settings), sid)
    committed: list[str] = []
    try:
        capture_type, assessment_id = upload_fields(len(frames), fields)
        assessment_type = None
        if assessment_id is not None:
            assessment_type = CameraAssessmentService.assessment_instrument(sid, assessment_id)
            if assessment_type is None:
                raise no_assessment(assessment_id)
        stored = [frame.stored(sid) for frame, _ in frames]
        for done, (_, upload) in zip(stored, frames, strict=True):
            upload.commit()
            committed.append(done.storage_key)
        batch_id = call(CameraAssessmentService.create_batch_capture_with_assessment_id,
                        phase2.create_batch_capture_async, assessment_id, stored, capture_type,
                        {"session_id": sid, "assessment_type": assessment_type})
    except BaseException:
        for _, upload in frames:
            upload.discard()
        for key in committed:
            storage.delete(key)
        raise
    return batch_body(batch_id, stored), 201


@bp.post("/link")
def link_incremental_captures_to_assessment(sid: UUID) -> Any:
    data = json_body(LinkIn)
    require_session(sid, bearer_hash())
    instrument = CameraAssessmentService.assessment_instrument(sid, data.assessment_id)
    if instrument is None:
        raise no_assessment(data.assessment_id)
    if instrument != data.assessment_type:
        raise invalid("assessment_type", f"Assessment {data.assessment_id} is a {instrument}, "
                      f"not a {data.assessment_type}.")
    linked = call(CameraAssessmentService.link_incremental_captures_to_assessment,
                  phase2.link_captures_async, sid, data.assessment_id, instrument)
    return {"linked": linked}


@bp.get("")
def list_captures(sid: UUID) -> Any:
    require_session(sid, bearer_hash())
    return CameraAssessmentService.list_captures(sid)


@bp.get("/<uuid:capture_id>")
def get_capture(sid: UUID, capture_id: UUID) -> Any:
    require_session(sid, bearer_hash())
    row = CameraAssessmentService.get_capture(sid, capture_id)
    if row is None:
        raise APIError(404, "CAPTURE_NOT_FOUND", f"This session has no capture {capture_id}.")
    storage: Storage = current_app.extensions["storage"]
    response = storage.response(row["storage_key"], row["content_type"], row["sha256"])
    response.headers["Cache-Control"] = "no-store"  # a face image: never cached
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
