"""PHQ-9's routes as the frontend first called them: an alias of the instrument routes
(blueprints/instruments.py), with PHQ-9's answer range (0-3) in their schema."""

from __future__ import annotations

from uuid import UUID

from quart import Blueprint, ResponseReturnValue
from quart_schema import document_response, validate_request

from assessment_async.blueprints.instruments import save_answer, state, submit_answers
from assessment_async.http.openapi import (
    CLINICAL_ALERT,
    document_body,
    document_errors,
    document_path_parameter,
    document_response_headers,
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

bp = Blueprint("phq", __name__, url_prefix="/api/sessions/<uuid:sid>/phq")


@bp.put("/responses/<question_id>")
@validate_request(AnswerIn)
@document_response(AnswerOut)
@document_path_parameter("question_id", {"type": "integer", "minimum": 1, "maximum": 10},
                         "The item: 1-9 are scored, 10 is the difficulty question.")
@document_errors(409)
async def update_response(sid: UUID, question_id: str, data: AnswerIn) -> ResponseReturnValue:
    """Save one answer (items 1-9 score 0-3; item 10 is the difficulty question, not scored)."""
    return await save_answer(PHQ9, sid, question_id, data.answer)


@bp.post("/submit")
@validate_request(SubmitIn)
@document_response(AssessmentOut, 201)
@document_response(AssessmentOut, 200)
@document_response_headers(201, {"X-Clinical-Alert": CLINICAL_ALERT})
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
@document_errors(409)
async def submit(sid: UUID, data: SubmitIn) -> ResponseReturnValue:
    """Score the questionnaire; a repeat returns the same assessment with 200."""
    return await submit_answers(PHQ9, sid, data.responses)


@bp.get("")
@document_response(PhqState)
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
async def get_phq(sid: UUID) -> ResponseReturnValue:
    """The answers saved so far and the assessment, if submitted."""
    return await state(PHQ9, sid)


@bp.get("/fhir")
@document_body(200, "application/fhir+json", FhirQuestionnaireResponse,
               "The answers as a FHIR R4 QuestionnaireResponse.")
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
async def get_fhir(sid: UUID) -> ResponseReturnValue:
    """The answers as a FHIR R4 QuestionnaireResponse coded with LOINC."""
    return await state(PHQ9, sid, as_fhir=True)
