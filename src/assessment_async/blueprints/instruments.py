"""Every instrument: the catalogue a page renders from, and per session: save one answer,
submit, read back, export as FHIR. PHQ-9's `/phq` routes (blueprints/phq.py) are an alias
of these, in the route shapes the frontend first called."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from quart import Blueprint, ResponseReturnValue, current_app
from quart_schema import document_response, security_scheme, validate_request

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
from assessment_core.instruments import Instrument
from assessment_core.models import (
    AnswerOut,
    AssessmentOut,
    FhirQuestionnaireResponse,
    InstrumentAnswerIn,
    InstrumentList,
    InstrumentResponseIn,
    InstrumentSubmitIn,
    QuestionnaireState,
    ResponseIn,
)
from assessment_core.questionnaire import (
    alert_headers,
    already_submitted,
    answer_body,
    assessment_body,
    catalogue_body,
    check_repeat,
    checked_item,
    fhir_body,
    incomplete,
    instrument_named,
    state_body,
    submitted_answers,
)
from assessment_core.scoring import IncompleteAnswers

bp = Blueprint("instruments", __name__)
ROUTE = "/api/sessions/<uuid:sid>/instruments/<key>"


# What every instrument's routes do, PHQ-9's alias included.

async def save_answer(instrument: Instrument, sid: UUID, question_id: str,
                      answer: int) -> ResponseReturnValue:
    item = checked_item(instrument, question_id, answer)
    token_hash = bearer_hash()
    # Saved together with the answers other requests are saving right now, each committed
    # before its request is answered (services/answer_writer.py); with GROUP_COMMIT off, in
    # a statement of its own.
    writer: AnswerWriter | None = current_app.extensions.get("answers")
    row: Any
    if writer is not None:
        row = await writer.save(sid, token_hash, instrument.key, item, answer)
    else:
        async with get_db().connection() as conn:
            rows = await upsert_responses(conn, [SavedAnswer(sid, token_hash, instrument.key,
                                                             item, answer)])
        row = rows[0] if rows else None
    if row is None:  # the rare path: find out why, with as many queries as it takes
        async with get_db().connection() as conn:
            await require_session(conn, sid, token_hash)
        raise already_submitted()
    return answer_body(row)


async def submit_answers(instrument: Instrument, sid: UUID,
                         responses: Sequence[ResponseIn | InstrumentResponseIn],
                         ) -> ResponseReturnValue:
    answers = submitted_answers(instrument, responses)
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        try:
            row, created = await phq.submit_assessment(conn, sid, instrument, answers)
        except IncompleteAnswers as error:
            raise incomplete(error.missing) from None
    if not created:
        check_repeat(row, answers)
    return assessment_body(row), 201 if created else 200, alert_headers(row)


async def state(instrument: Instrument, sid: UUID, as_fhir: bool = False) -> ResponseReturnValue:
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await phq.select_responses(conn, sid, instrument.key)
        assessment = await phq.select_assessment(conn, sid, instrument.key)
    if not as_fhir:
        return state_body(rows, assessment), 200, alert_headers(assessment)
    resource = fhir_body(instrument, sid, rows, assessment)
    return resource, 200, {"Content-Type": "application/fhir+json", **alert_headers(assessment)}


# The routes.

@bp.get("/api/instruments")
@document_response(InstrumentList)
@security_scheme([])  # the instruments are public data
async def list_instruments() -> ResponseReturnValue:
    """Every instrument with its items, answer options (value and text), bands and alert
    rules: what a page needs to render and score-check a questionnaire."""
    return catalogue_body()


@bp.put(f"{ROUTE}/responses/<question_id>")
@validate_request(InstrumentAnswerIn)
@document_response(AnswerOut)
@document_path_parameter("key", {"type": "string"}, "The instrument (GET /api/instruments).")
@document_path_parameter("question_id", {"type": "integer", "minimum": 1},
                         "The item's id (GET /api/instruments).")
@document_errors(409)
async def update_response(sid: UUID, key: str, question_id: str,
                          data: InstrumentAnswerIn) -> ResponseReturnValue:
    """Save one answer to the instrument's item: one of the item's option values."""
    return await save_answer(instrument_named(key), sid, question_id, data.answer)


@bp.post(f"{ROUTE}/submit")
@validate_request(InstrumentSubmitIn)
@document_response(AssessmentOut, 201)
@document_response(AssessmentOut, 200)
@document_path_parameter("key", {"type": "string"}, "The instrument (GET /api/instruments).")
@document_response_headers(201, {"X-Clinical-Alert": CLINICAL_ALERT})
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
@document_errors(409)
async def submit(sid: UUID, key: str, data: InstrumentSubmitIn) -> ResponseReturnValue:
    """Score the instrument; a repeat returns the same assessment with 200."""
    return await submit_answers(instrument_named(key), sid, data.responses)


@bp.get(ROUTE)
@document_response(QuestionnaireState)
@document_path_parameter("key", {"type": "string"}, "The instrument (GET /api/instruments).")
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
async def get_instrument(sid: UUID, key: str) -> ResponseReturnValue:
    """The answers saved so far and the assessment, if submitted."""
    return await state(instrument_named(key), sid)


@bp.get(f"{ROUTE}/fhir")
@document_body(200, "application/fhir+json", FhirQuestionnaireResponse,
               "The answers as a FHIR R4 QuestionnaireResponse.")
@document_path_parameter("key", {"type": "string"}, "The instrument (GET /api/instruments).")
@document_response_headers(200, {"X-Clinical-Alert": CLINICAL_ALERT})
async def get_fhir(sid: UUID, key: str) -> ResponseReturnValue:
    """The answers as a FHIR R4 QuestionnaireResponse coded with LOINC."""
    return await state(instrument_named(key), sid, as_fhir=True)
