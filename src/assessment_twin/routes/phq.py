"""Health, sessions and PHQ-9, as the ASGI app serves them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, current_app

from assessment_core.errors import RETRY_AFTER_SECONDS
from assessment_core.instruments import PHQ9
from assessment_core.models import AnswerIn, SessionCreate, SubmitIn
from assessment_core.questionnaire import (
    alert_headers,
    already_submitted,
    answer_body,
    assessment_body,
    check_repeat,
    checked_item,
    fhir_body,
    incomplete,
    state_body,
    submitted_answers,
    summary_body,
)
from assessment_core.scoring import IncompleteAnswers
from assessment_core.tokens import new_token
from assessment_twin import phase2
from assessment_twin.http import bearer_hash, json_body, require_session
from assessment_twin.phase2 import call
from assessment_twin.services.answer_writer import AnswerWriter
from assessment_twin.services.phq import PHQResponseService
from assessment_twin.services.sessions import SessionService

bp = Blueprint("phq", __name__)
Reply = tuple[Any, int, dict[str, str]] | dict[str, Any]


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
    return {"status": "ready"}


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
    return summary_body(SessionService.summary(sid, PHQ9.key))


@bp.put("/api/sessions/<uuid:sid>/phq/responses/<question_id>")
def update_response(sid: UUID, question_id: str) -> Reply:
    data = json_body(AnswerIn)
    item = checked_item(PHQ9, question_id, data.answer)
    token_hash = bearer_hash()
    writer: AnswerWriter | None = current_app.extensions.get("answers")
    if writer is not None:  # group commit (TWIN_GROUP_COMMIT)
        row = writer.save(sid, token_hash, PHQ9.key, item, data.answer)
    else:
        updates = {"answer": data.answer, "token_hash": token_hash, "instrument": PHQ9.key}
        row = call(PHQResponseService.update_response, phase2.update_response_async, sid,
                   item, updates)
    if row is None:
        require_session(sid, token_hash)
        raise already_submitted()
    return answer_body(row)


@bp.post("/api/sessions/<uuid:sid>/phq/submit")
def submit(sid: UUID) -> Reply:
    data = json_body(SubmitIn)
    answers = submitted_answers(PHQ9, data.responses)
    require_session(sid, bearer_hash())
    responses = [{"question_id": q, "answer": a} for q, a in answers.items()]
    try:
        row, created = call(PHQResponseService.save_session_responses,
                            phase2.save_session_responses_async, sid, responses)
    except IncompleteAnswers as error:
        raise incomplete(error.missing) from None
    if not created:
        check_repeat(row, answers)
    return assessment_body(row), 201 if created else 200, alert_headers(row)


@bp.get("/api/sessions/<uuid:sid>/phq")
def get_phq(sid: UUID) -> Reply:
    require_session(sid, bearer_hash())
    assessment = PHQResponseService.get_assessment(sid, PHQ9.key)
    body = state_body(PHQResponseService.get_responses(sid, PHQ9.key), assessment)
    return body, 200, alert_headers(assessment)


@bp.get("/api/sessions/<uuid:sid>/phq/fhir")
def get_fhir(sid: UUID) -> Reply:
    require_session(sid, bearer_hash())
    assessment = PHQResponseService.get_assessment(sid, PHQ9.key)
    resource = fhir_body(PHQ9, sid, PHQResponseService.get_responses(sid, PHQ9.key), assessment)
    return resource, 200, {"Content-Type": "application/fhir+json", **alert_headers(assessment)}
