"""Health, sessions and PHQ-9's alias routes, as the ASGI app serves them."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint, current_app

from assessment_core.errors import RETRY_AFTER_SECONDS
from assessment_core.instruments import PHQ9
from assessment_core.models import AnswerIn, SessionCreate, SubmitIn
from assessment_core.questionnaire import summary_body
from assessment_core.tokens import new_token
from assessment_twin.http import bearer_hash, json_body, require_session
from assessment_twin.routes.instruments import Reply, save_answer, state, submit_answers
from assessment_twin.services.sessions import SessionService

bp = Blueprint("phq", __name__)


@bp.get("/healthz")
def healthz() -> Reply:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Reply:
    try:
        SessionService.ping()
    except Exception as error:  # any failure means: do not route traffic here
        body = {"status": "unavailable", "reason": f"database: {type(error).__name__}"}
        return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}
    settings = current_app.config["SETTINGS"]  # the store is said, not acted on (asgi's)
    storage = current_app.extensions["storage"].check(settings.capture_max_request_bytes)
    return {"status": "ready", "storage": storage}


@bp.post("/api/sessions")
def create_session() -> Reply:
    data = json_body(SessionCreate)
    token, token_hash = new_token()
    row = SessionService.create_session(token_hash, data.participant_ref)
    body = {"session_id": row["id"], "token": token, "created_at": row["created_at"]}
    return body, 201, {"Cache-Control": "no-store"}


@bp.get("/api/sessions/<uuid:sid>")
def get_session(sid: UUID) -> Reply:
    require_session(sid, bearer_hash())
    return summary_body(SessionService.summary(sid))


# PHQ-9's routes as the frontend first called them: an alias of the instrument routes
# (routes/instruments.py), with PHQ-9's answer range (0-3) in their schema.

@bp.put("/api/sessions/<uuid:sid>/phq/responses/<question_id>")
def update_response(sid: UUID, question_id: str) -> Reply:
    return save_answer(PHQ9, sid, question_id, json_body(AnswerIn).answer)


@bp.post("/api/sessions/<uuid:sid>/phq/submit")
def submit(sid: UUID) -> Reply:
    return submit_answers(PHQ9, sid, json_body(SubmitIn).responses)


@bp.get("/api/sessions/<uuid:sid>/phq")
def get_phq(sid: UUID) -> Reply:
    return state(PHQ9, sid)


@bp.get("/api/sessions/<uuid:sid>/phq/fhir")
def get_fhir(sid: UUID) -> Reply:
    return state(PHQ9, sid, as_fhir=True)
