"""PHQ-9: save one answer, submit, read back, export as FHIR."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart import Blueprint, ResponseReturnValue, current_app
from quart_schema import document_response, validate_request

from assessment_async.http.auth import bearer_hash, require_session
from assessment_async.http.openapi import (
    CLINICAL_ALERT,
    document_body,
    document_errors,
    document_path_parameter,
    document_response_headers,
)
from assessment_async.infra.db import get_db
from assessment_async.services import phq
from assessment_async.services.answer_writer import (
    AnswerWriter,
    SavedAnswer,
    upsert_responses,
)
from assessment_core.instruments import PHQ9
from assessment_core.models import (
    AnswerIn,
    AnswerOut,
    AssessmentOut,
    FhirQuestionnaireResponse,
    PhqState,
    SubmitIn,
)
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
)
from assessment_core.scoring import IncompleteAnswers

bp = Blueprint("phq", __name__, url_prefix="/api/sessions/<uuid:sid>/phq")


async def save_answer(sid: UUID, token_hash: bytes, item: int, answer: int) -> Any:
    """Saved together with the answers other requests are saving right now, each committed
    before its request is answered (services/answer_writer.py); or, with GROUP_COMMIT off,
    in a statement of its own."""
    writer: AnswerWriter | None = current_app.extensions.get("answers")
    if writer is not None:
        return await writer.save(sid, token_hash, PHQ9.key, item, answer)
    async with get_db().connection() as conn:
        rows = await upsert_responses(conn, [SavedAnswer(sid, token_hash, PHQ9.key, item,
                                                         answer)])
    return rows[0] if rows else None


@bp.put("/responses/<question_id>")
@validate_request(AnswerIn)
@document_response(AnswerOut)
@document_path_parameter("question_id", {"type": "integer", "minimum": 1, "maximum": 10},
                         "The item: 1-9 are scored, 10 is the difficulty question.")
@document_errors(409)
async def update_response(sid: UUID, question_id: str, data: AnswerIn) -> ResponseReturnValue:
    """Save one answer (items 1-9 score 0-3; item 10 is the difficulty question, not scored)."""
    item = checked_item(PHQ9, question_id, data.answer)
    token_hash = bearer_hash()
    row = await save_answer(sid, token_hash, item, data.answer)
    if row is None:  # the rare path: find out why, with as many queries as it takes
        async with get_db().connection() as conn:
            await require_session(conn, sid, token_hash)
        raise already_submitted()
    return answer_body(row)


@bp.post("/submit")
@validate_request(SubmitIn)
@document_response(AssessmentOut, 201)
@document_response(AssessmentOut, 200)
@document_response_headers(201, {"X-Clinical-Alert": CLINICAL_ALERT})
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
@document_errors(409)
async def submit(sid: UUID, data: SubmitIn) -> ResponseReturnValue:
    """Score the questionnaire; a repeat returns the same assessment with 200."""
    answers = submitted_answers(PHQ9, data.responses)
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        try:
            row, created = await phq.submit_assessment(conn, sid, PHQ9, answers)
        except IncompleteAnswers as error:
            raise incomplete(error.missing) from None
    if not created:
        check_repeat(row, answers)
    return assessment_body(row), 201 if created else 200, alert_headers(row)


@bp.get("")
@document_response(PhqState)
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
async def get_phq(sid: UUID) -> ResponseReturnValue:
    """The answers saved so far and the assessment, if submitted."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await phq.select_responses(conn, sid, PHQ9.key)
        assessment = await phq.select_assessment(conn, sid, PHQ9.key)
    return state_body(rows, assessment), 200, alert_headers(assessment)


@bp.get("/fhir")
@document_body(200, "application/fhir+json", FhirQuestionnaireResponse,
               "The answers as a FHIR R4 QuestionnaireResponse.")
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
async def get_fhir(sid: UUID) -> ResponseReturnValue:
    """The answers as a FHIR R4 QuestionnaireResponse coded with LOINC."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await phq.select_responses(conn, sid, PHQ9.key)
        assessment = await phq.select_assessment(conn, sid, PHQ9.key)
    resource = fhir_body(PHQ9, sid, rows, assessment)
    return resource, 200, {"Content-Type": "application/fhir+json", **alert_headers(assessment)}
