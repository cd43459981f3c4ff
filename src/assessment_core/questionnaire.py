"""The questionnaire routes' rules and bodies, the same in both apps and for every instrument:
which instrument a route names, item parsing, submit checks, the assessment body with its
unmissable safety alert, the FHIR view of stored rows, the catalogue a page renders from."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from assessment_core import fhir
from assessment_core.errors import APIError
from assessment_core.instruments import INSTRUMENTS, PHQ9, Instrument
from assessment_core.models import InstrumentResponseIn, ResponseIn
from assessment_core.scoring import InvalidAnswer, Score, check_answer, score

Row = Mapping[str, Any]

ALERT_HEADER = "X-Clinical-Alert"


def instrument_named(key: str) -> Instrument:
    """The instrument a route names; 404 naming the ones there are."""
    instrument = INSTRUMENTS.get(key)
    if instrument is None:
        raise APIError(404, "UNKNOWN_INSTRUMENT", f"There is no instrument {key!r}; the "
                       f"instruments are {', '.join(INSTRUMENTS)} (GET /api/instruments).")
    return instrument


def instrument_body(instrument: Instrument) -> dict[str, Any]:
    """An instrument as a page renders it: items with their answer options, bands, alerts."""
    tops = [band.minimum - 1 for band in instrument.bands[1:]] + [instrument.max_total]
    safety = instrument.safety
    return {
        "key": instrument.key,
        "title": instrument.title,
        "loinc": {"panel": instrument.panel_loinc, "total": instrument.total_loinc},
        "items": [{"id": item.id, "text": item.text, "scored": item.scored, "loinc": item.loinc,
                   "options": [{"value": o.value, "text": o.display, "loinc": o.loinc}
                               for o in item.options]}
                  for item in instrument.items],
        "max_total": instrument.max_total,
        "bands": [{"minimum": band.minimum, "maximum": top, "label": band.label}
                  for band, top in zip(instrument.bands, tops, strict=True)],
        "alerts": [] if safety is None else [{"item": safety.item, "above": 0,
                                              "code": safety.code, "message": safety.message}],
    }


def catalogue_body() -> dict[str, Any]:
    return {"instruments": [instrument_body(i) for i in INSTRUMENTS.values()]}


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


def checked_item(instrument: Instrument, raw_question_id: str, answer: int) -> int:
    """The item number of a one-answer save, with the answer checked against the item."""
    question_id = parse_question_id(raw_question_id)
    try:
        check_answer(instrument, question_id, answer)
    except InvalidAnswer as error:
        raise invalid(error) from None
    return question_id


def submitted_answers(instrument: Instrument,
                      responses: Sequence[ResponseIn | InstrumentResponseIn]) -> dict[int, int]:
    """A submit body's answers by item; 422 naming the first bad or repeated entry."""
    answers: dict[int, int] = {}
    for index, response in enumerate(responses):
        try:
            check_answer(instrument, response.question_id, response.answer)
        except InvalidAnswer as error:
            raise invalid(error, f"responses.{index}.") from None
        if response.question_id in answers:
            raise APIError(422, "VALIDATION_ERROR", f"Item {response.question_id} appears twice.",
                           [{"field": f"responses.{index}.question_id", "message": "duplicate"}])
        answers[response.question_id] = response.answer
    return answers


def incomplete(missing: list[int]) -> APIError:
    return APIError(422, "INCOMPLETE_QUESTIONNAIRE", f"Answer items {missing} before submitting.",
                    [{"field": "responses", "message": f"item {item} has no answer"}
                     for item in missing])


def already_submitted() -> APIError:
    return APIError(409, "ALREADY_SUBMITTED", "This questionnaire was submitted; its answers can "
                    "no longer change.")


def check_repeat(stored: Row, answers: Mapping[int, int]) -> None:
    """A repeated submit may only resend the answers that were scored (409 otherwise)."""
    scored = {int(k): v for k, v in stored["answers"].items()}
    changed = [q for q, a in answers.items() if scored.get(q) != a]
    if changed:
        raise APIError(409, "ALREADY_SUBMITTED", f"This questionnaire was already submitted "
                       f"with other answers for items {changed}; they can no longer change.")


def assessment_values(instrument: Instrument, session_id: UUID,
                      saved: Mapping[int, int]) -> dict[str, Any]:
    """The values of SQL.insert_assessment: the saved answers scored, and kept as scored.
    Raises IncompleteAnswers when scored items have no answer."""
    result = score(instrument, saved)
    return {"id": uuid4(), "session_id": session_id, "instrument": instrument.key,
            "total_score": result.total, "severity": result.severity,
            "flagged": result.flagged, "difficulty": result.difficulty,
            "answers": json.dumps({str(k): v for k, v in sorted(saved.items())})}


def answer_body(row: Row) -> dict[str, Any]:
    return {"question_id": row["question_id"], "answer": row["answer"],
            "updated_at": row["updated_at"]}


def _alerts(row: Row) -> list[dict[str, str]]:
    safety = INSTRUMENTS[row["instrument"]].safety
    if not row["flagged"] or safety is None:
        return []
    return [{"code": safety.code, "message": safety.message}]


def assessment_body(row: Row) -> dict[str, Any]:
    return {
        "assessment_id": row["id"],
        "instrument": row["instrument"],
        "total_score": row["total_score"],
        "severity": row["severity"],
        "item9_positive": row["flagged"],
        "difficulty": row["difficulty"],
        "submitted_at": row["submitted_at"],
        "alerts": _alerts(row),
    }


def alert_headers(row: Row | None) -> dict[str, str]:
    if row is None or not row["flagged"]:
        return {}
    safety = INSTRUMENTS[row["instrument"]].safety
    return {ALERT_HEADER: safety.header} if safety is not None else {}


def state_body(responses: Iterable[Row], assessment: Row | None) -> dict[str, Any]:
    return {"responses": [answer_body(r) for r in responses],
            "assessment": assessment_body(assessment) if assessment else None}


def fhir_body(instrument: Instrument, session_id: UUID, responses: Sequence[Row],
              assessment: Row | None) -> dict[str, Any]:
    """The FHIR resource: the scored answers once submitted, else the answers saved so far."""
    authored: datetime | None
    if assessment is not None:
        answers = {int(k): v for k, v in assessment["answers"].items()}
        result: Score | None = Score(assessment["total_score"], assessment["severity"],
                                     assessment["flagged"], assessment["difficulty"])
        authored = assessment["submitted_at"]
    else:
        answers = {r["question_id"]: r["answer"] for r in responses}
        result = None
        authored = max((r["updated_at"] for r in responses), default=None)
    return fhir.questionnaire_response(instrument, session_id, answers, authored, result)


def summary_body(rows: Sequence[Row]) -> dict[str, Any]:
    """SQL.select_summary's rows (one per instrument) as the session's summary: each
    instrument's state, and PHQ-9's again as `phq`, the shape the frontend first read."""
    states = {row["instrument"]: {
        "answered": row["answered"],
        "items": len(INSTRUMENTS[row["instrument"]].items),
        "submitted": row["assessment_id"] is not None,
        "assessment_id": row["assessment_id"],
        "flagged": bool(row["flagged"]),
    } for row in rows}
    first, phq = rows[0], states[PHQ9.key]
    return {
        "session_id": first["id"],
        "participant_ref": first["participant_ref"],
        "created_at": first["created_at"],
        "phq": {"answered": phq["answered"], "submitted": phq["submitted"],
                "assessment_id": phq["assessment_id"], "item9_positive": phq["flagged"]},
        "instruments": states,
    }
