from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from assessment_core.fhir import SAFETY_TAG, questionnaire_response
from assessment_core.instruments import GAD7, PHQ9
from assessment_core.scoring import score

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """Parse with fhir.resources (raises on any FHIR violation); return it as plain data."""
    parsed = QuestionnaireResponse.model_validate(resource)
    data: dict[str, Any] = parsed.model_dump(mode="json", exclude_none=True)
    return data


def test_completed_phq9_is_a_valid_questionnaire_response_with_loinc_codes() -> None:
    answers = {i: 2 for i in range(1, 10)} | {9: 0, 10: 1}
    doc = validated(questionnaire_response(PHQ9, uuid.uuid4(), answers, NOW,
                                           score(PHQ9, answers)))
    assert doc["status"] == "completed"
    assert doc["questionnaire"] == "http://loinc.org/q/44249-1"
    assert [item["linkId"] for item in doc["item"]] == [
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3",
        "44260-8", "69722-7", "44261-6"]
    assert doc["item"][0]["answer"][0]["valueCoding"] == {
        "system": "http://loinc.org", "code": "LA6570-1", "display": "More than half the days"}
    assert doc["item"][9]["answer"][0]["valueCoding"]["code"] == "LA6573-5"  # somewhat difficult
    assert doc["item"][-1]["answer"][0]["valueInteger"] == 16
    assert "meta" not in doc


def test_flagged_assessment_carries_the_alert_tag() -> None:
    answers = dict.fromkeys(range(1, 10), 0) | {9: 1}
    doc = validated(questionnaire_response(PHQ9, uuid.uuid4(), answers, NOW,
                                           score(PHQ9, answers)))
    assert [tag["code"] for tag in doc["meta"]["tag"]] == [SAFETY_TAG["code"]]


def test_unsubmitted_answers_are_in_progress_without_total() -> None:
    doc = validated(questionnaire_response(PHQ9, uuid.uuid4(), {1: 0, 2: 3}, None, None))
    assert doc["status"] == "in-progress"
    assert [item["linkId"] for item in doc["item"]] == ["44250-9", "44255-8"]
    assert doc["item"][1]["answer"][0]["valueCoding"]["code"] == "LA6571-9"


def test_gad7_exports_with_its_own_panel_and_total() -> None:
    answers = dict.fromkeys(range(1, 8), 1)
    doc = validated(questionnaire_response(GAD7, uuid.uuid4(), answers, NOW,
                                           score(GAD7, answers)))
    assert doc["questionnaire"] == "http://loinc.org/q/69737-5"
    assert doc["item"][-1] == {"linkId": "70274-6", "text": GAD7.title + " total score",
                               "answer": [{"valueInteger": 7}]}
