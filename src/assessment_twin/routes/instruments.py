"""Every instrument, as the ASGI app serves them (blueprints/instruments.py): the catalogue,
and per session: save one answer, submit, read back, export as FHIR. PHQ-9's `/phq` routes
(routes/phq.py) are an alias of these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from flask import Blueprint, current_app

from assessment_core.instruments import Instrument
from assessment_core.models import (
    InstrumentAnswerIn,
    InstrumentResponseIn,
    InstrumentSubmitIn,
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
from assessment_twin import phase2
from assessment_twin.http import bearer_hash, json_body, require_session
from assessment_twin.phase2 import call
from assessment_twin.services.answer_writer import AnswerWriter
from assessment_twin.services.phq import PHQResponseService

bp = Blueprint("instruments", __name__)
ROUTE = "/api/sessions/<uuid:sid>/instruments/<key>"
Reply = tuple[Any, int, dict[str, str]] | dict[str, Any]


# What every instrument's routes do, PHQ-9's alias included.

def save_answer(instrument: Instrument, sid: UUID, question_id: str, answer: int) -> Reply:
    item = checked_item(instrument, question_id, answer)
    token_hash = bearer_hash()
    writer: AnswerWriter | None = current_app.extensions.get("answers")
    if writer is not None:  # group commit (TWIN_GROUP_COMMIT)
        row = writer.save(sid, token_hash, instrument.key, item, answer)
    else:
        updates = {"answer": answer, "token_hash": token_hash, "instrument": instrument.key}
        row = call(PHQResponseService.update_response, phase2.update_response_async, sid,
                   item, updates)
    if row is None:
        require_session(sid, token_hash)
        raise already_submitted()
    return answer_body(row)


def submit_answers(instrument: Instrument, sid: UUID,
                   responses: Sequence[ResponseIn | InstrumentResponseIn]) -> Reply:
    answers = submitted_answers(instrument, responses)
    require_session(sid, bearer_hash())
    rows = [{"question_id": q, "answer": a} for q, a in answers.items()]
    try:
        row, created = call(PHQResponseService.save_session_responses,
                            phase2.save_session_responses_async, sid, rows, instrument.key)
    except IncompleteAnswers as error:
        raise incomplete(error.missing) from None
    if not created:
        check_repeat(row, answers)
    return assessment_body(row), 201 if created else 200, alert_headers(row)


def state(instrument: Instrument, sid: UUID, as_fhir: bool = False) -> Reply:
    require_session(sid, bearer_hash())
    rows = PHQResponseService.get_responses(sid, instrument.key)  # in the ASGI app's order
    assessment = PHQResponseService.get_assessment(sid, instrument.key)
    if not as_fhir:
        return state_body(rows, assessment), 200, alert_headers(assessment)
    resource = fhir_body(instrument, sid, rows, assessment)
    return resource, 200, {"Content-Type": "application/fhir+json", **alert_headers(assessment)}


# The routes.

@bp.get("/api/instruments")
def list_instruments() -> Reply:
    return catalogue_body()


@bp.put(f"{ROUTE}/responses/<question_id>")
def update_response(sid: UUID, key: str, question_id: str) -> Reply:
    data = json_body(InstrumentAnswerIn)  # the body first, as quart-schema checks it first
    return save_answer(instrument_named(key), sid, question_id, data.answer)


@bp.post(f"{ROUTE}/submit")
def submit(sid: UUID, key: str) -> Reply:
    data = json_body(InstrumentSubmitIn)
    return submit_answers(instrument_named(key), sid, data.responses)


@bp.get(ROUTE)
def get_instrument(sid: UUID, key: str) -> Reply:
    return state(instrument_named(key), sid)


@bp.get(f"{ROUTE}/fhir")
def get_fhir(sid: UUID, key: str) -> Reply:
    return state(instrument_named(key), sid, as_fhir=True)
