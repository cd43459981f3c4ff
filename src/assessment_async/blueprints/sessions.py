"""POST /api/sessions and GET /api/sessions/<sid>."""

from __future__ import annotations

from uuid import UUID

from quart import Blueprint, ResponseReturnValue
from quart_schema import document_response, security_scheme, validate_request

from assessment_async.http.auth import bearer_hash, new_token, require_session
from assessment_async.http.openapi import document_response_headers
from assessment_async.infra.db import get_db
from assessment_async.services import sessions
from assessment_core.models import SessionCreate, SessionCreated, SessionSummary
from assessment_core.questionnaire import summary_body

bp = Blueprint("sessions", __name__, url_prefix="/api/sessions")


@bp.post("")
@validate_request(SessionCreate)
@document_response(SessionCreated, 201)
@document_response_headers(201, {"Cache-Control": {"required": True,
                                                   "schema": {"const": "no-store"}}})
@security_scheme([])  # this route hands out the token
async def create_session(data: SessionCreate) -> ResponseReturnValue:
    """Start a session; the token in the answer is shown once and opens every session route."""
    token, token_hash = new_token()
    async with get_db().connection() as conn:
        row = await sessions.insert_session(conn, token_hash, data.participant_ref)
    body = {"session_id": row["id"], "token": token, "created_at": row["created_at"]}
    return body, 201, {"Cache-Control": "no-store"}


@bp.get("/<uuid:sid>")
@document_response(SessionSummary)
async def get_session(sid: UUID) -> ResponseReturnValue:
    """The session's state: how far each instrument got, and whether it needs a clinician."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await sessions.select_summary(conn, sid)
    return summary_body(rows)
