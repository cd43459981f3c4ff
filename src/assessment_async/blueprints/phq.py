"""PHQ-9: save one answer, submit, read back, export as FHIR."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from quart import Blueprint, ResponseReturnValue
from quart_schema import document_response, validate_request

from assessment_async.auth import bearer_hash, require_session
from assessment_async.db import get_db
from assessment_async.domain import fhir
from assessment_async.domain.instruments import PHQ9
from assessment_async.domain.models import AnswerIn, AnswerOut, AssessmentOut, PhqState, SubmitIn
from assessment_async.domain.scoring import IncompleteAnswers, InvalidAnswer, Score, check_answer
from assessment_async.errors import APIError
from assessment_async.services import phq

bp = Blueprint("phq", __name__, url_prefix="/api/sessions/<uuid:sid>/phq")

ITEM9_ALERT = {
    "code": "ITEM9_POSITIVE",
    "message": "Item 9 (thoughts of death or self-harm) was answered above 0: a clinician must "
               "review this assessment before the participant leaves.",
}
ALERT_HEADER = "X-Clinical-Alert"


def parse_question_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise APIError(422, "VALIDATION_ERROR", f"question_id must be an item number, got {raw!r}.",
                       [{"field": "question_id", "message": "not an integer"}]) from None


def invalid(error: InvalidAnswer, field_prefix: str = "") -> APIError:
    field = f"{field_prefix}{error.field}"
    return APIError(422, "VALIDATION_ERROR", error.message, [{"field": field,
                                                            "message": error.message}])


def answer_body(row: asyncpg.Record) -> dict[str, Any]:
    return {"question_id": row["question_id"], "answer": row["answer"],
            "updated_at": row["updated_at"]}


def assessment_body(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "assessment_id": row["id"],
        "instrument": row["instrument"],
        "total_score": row["total_score"],
        "severity": row["severity"],
        "item9_positive": row["flagged"],
        "difficulty": row["difficulty"],
        "submitted_at": row["submitted_at"],
        "alerts": [ITEM9_ALERT] if row["flagged"] else [],
    }


def alert_headers(row: asyncpg.Record | None) -> dict[str, str]:
    return {ALERT_HEADER: "item9-positive"} if row is not None and row["flagged"] else {}


@bp.put("/responses/<question_id>")
@validate_request(AnswerIn)
@document_response(AnswerOut)
async def update_response(sid: UUID, question_id: str, data: AnswerIn) -> ResponseReturnValue:
    """Save one answer (items 1-9 score 0-3; item 10 is the difficulty question, not scored)."""
    item = parse_question_id(question_id)
    try:
        check_answer(PHQ9, item, data.answer)
    except InvalidAnswer as error:
        raise invalid(error) from None
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        row = await phq.upsert_response(conn, sid, token_hash, PHQ9.key, item, data.answer)
        if row is None:  # the rare path: find out why, with as many queries as it takes
            await require_session(conn, sid, token_hash)
            raise APIError(409, "ALREADY_SUBMITTED", "This questionnaire was submitted; its "
                           "answers can no longer change.")
    return answer_body(row)


@bp.post("/submit")
@validate_request(SubmitIn)
@document_response(AssessmentOut, 201)
async def submit(sid: UUID, data: SubmitIn) -> ResponseReturnValue:
    """Score the questionnaire; a repeat returns the same assessment with 200."""
    answers: dict[int, int] = {}
    for index, response in enumerate(data.responses):
        try:
            check_answer(PHQ9, response.question_id, response.answer)
        except InvalidAnswer as error:
            raise invalid(error, f"responses.{index}.") from None
        if response.question_id in answers:
            raise APIError(422, "VALIDATION_ERROR", f"Item {response.question_id} appears twice.",
                           [{"field": f"responses.{index}.question_id", "message": "duplicate"}])
        answers[response.question_id] = response.answer
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        try:
            row, created = await phq.submit_assessment(conn, sid, PHQ9, answers)
        except IncompleteAnswers as error:
            raise APIError(422, "INCOMPLETE_QUESTIONNAIRE",
                           f"Answer items {error.missing} before submitting.",
                           [{"field": "responses", "message": f"item {item} has no answer"}
                            for item in error.missing]) from None
    if not created:
        stored = {int(k): v for k, v in row["answers"].items()}
        changed = [q for q, a in answers.items() if stored.get(q) != a]
        if changed:
            raise APIError(409, "ALREADY_SUBMITTED", f"This questionnaire was already submitted "
                           f"with other answers for items {changed}; they can no longer change.")
    return assessment_body(row), 201 if created else 200, alert_headers(row)


@bp.get("")
@document_response(PhqState)
async def get_phq(sid: UUID) -> ResponseReturnValue:
    """The answers saved so far and the assessment, if submitted."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await phq.select_responses(conn, sid, PHQ9.key)
        assessment = await phq.select_assessment(conn, sid, PHQ9.key)
    body = {"responses": [answer_body(r) for r in rows],
            "assessment": assessment_body(assessment) if assessment else None}
    return body, 200, alert_headers(assessment)


@bp.get("/fhir")
async def get_fhir(sid: UUID) -> ResponseReturnValue:
    """The answers as a FHIR R4 QuestionnaireResponse coded with LOINC."""
    token_hash = bearer_hash()
    async with get_db().connection() as conn:
        await require_session(conn, sid, token_hash)
        rows = await phq.select_responses(conn, sid, PHQ9.key)
        assessment = await phq.select_assessment(conn, sid, PHQ9.key)
    if assessment is not None:
        answers = {int(k): v for k, v in assessment["answers"].items()}
        result = Score(assessment["total_score"], assessment["severity"], assessment["flagged"],
                       assessment["difficulty"])
        authored = assessment["submitted_at"]
    else:
        answers = {r["question_id"]: r["answer"] for r in rows}
        result = None
        authored = max((r["updated_at"] for r in rows), default=None)
    resource = fhir.questionnaire_response(PHQ9, sid, answers, authored, result)
    return resource, 200, {"Content-Type": "application/fhir+json", **alert_headers(assessment)}
