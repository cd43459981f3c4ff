"""Answers as a FHIR R4 QuestionnaireResponse, coded with LOINC (pure; returns a dict).

Each item's linkId is its LOINC question code and the questionnaire is LOINC's own panel
(http://loinc.org/q/44249-1), the convention of LOINC's published FHIR Questionnaires.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from assessment_core.instruments import LOINC, Instrument
from assessment_core.scoring import Score

# A plain FHIR flag on the resource, so a system that reads only FHIR still sees the alert.
SAFETY_TAG = {"system": "urn:assessment-async:alert", "code": "item9-positive",
              "display": "Self-harm item answered above 0: a clinician must review"}


def questionnaire_response(
    instrument: Instrument,
    session_id: UUID,
    answers: Mapping[int, int],
    authored: datetime | None,
    score: Score | None,
) -> dict[str, Any]:
    """Build the resource: `completed` with the total score when scored, else `in-progress`."""
    items: list[dict[str, Any]] = []
    for item in instrument.items:
        if item.id not in answers:
            continue
        option = next(o for o in item.options if o.value == answers[item.id])
        items.append({
            "linkId": item.loinc,
            "text": item.text,
            "answer": [{"valueCoding": {"system": LOINC, "code": option.loinc,
                                        "display": option.display}}],
        })
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(session_id),
        "meta": {"tag": [{**SAFETY_TAG, "code": instrument.safety.header}]}
        if score is not None and score.flagged and instrument.safety is not None else {},
        "identifier": {"system": "urn:assessment-async:session", "value": str(session_id)},
        "questionnaire": f"{LOINC}/q/{instrument.panel_loinc}",
        "status": "completed" if score is not None else "in-progress",
        "item": items,
    }
    if not resource["meta"]:
        del resource["meta"]
    if authored is not None:
        resource["authored"] = authored.isoformat()
    if score is not None:
        items.append({
            "linkId": instrument.total_loinc,
            "text": f"{instrument.title} total score",
            "answer": [{"valueInteger": score.total}],
        })
    return resource
