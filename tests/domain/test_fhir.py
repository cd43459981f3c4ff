from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from assessment_async.domain.fhir import SAFETY_TAG, questionnaire_response
from assessment_async.domain.instruments import GAD7, PHQ9
from assessment_async.domain.scoring import score

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_completed_phq9_is_a_valid_questionnaire_response_with_loinc_codes() -> None:
    answers = {i: 2 for i in range(1, 10)} | {9: 0, 10: 1}
    resource = questionnaire_response(PHQ9, uuid.uuid4(), answers, NOW, score(PHQ9, answers))
    parsed = QuestionnaireResponse.model_validate(resource)
    assert parsed.status == "completed"
    assert parsed.questionnaire == "http://loinc.org/q/44249-1"
    link_ids = [item.linkId for item in parsed.item]
    assert link_ids == ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2",
                        "44252-5", "44253-3", "44260-8", "69722-7", "44261-6"]
    first = parsed.item[0].answer[0].valueCoding
    assert (first.system, first.code, first.display) == (
        "http://loinc.org", "LA6570-1", "More than half the days")
    assert parsed.item[9].answer[0].valueCoding.code == "LA6573-5"  # somewhat difficult
    assert parsed.item[-1].answer[0].valueInteger == 16
    assert "meta" not in resource


def test_flagged_assessment_carries_the_alert_tag() -> None:
    answers = dict.fromkeys(range(1, 10), 0) | {9: 1}
    resource = questionnaire_response(PHQ9, uuid.uuid4(), answers, NOW, score(PHQ9, answers))
    parsed = QuestionnaireResponse.model_validate(resource)
    assert parsed.meta is not None
    assert [tag.code for tag in parsed.meta.tag] == [SAFETY_TAG["code"]]


def test_unsubmitted_answers_are_in_progress_without_total() -> None:
    resource = questionnaire_response(PHQ9, uuid.uuid4(), {1: 0, 2: 3}, None, None)
    parsed = QuestionnaireResponse.model_validate(resource)
    assert parsed.status == "in-progress"
    assert [item.linkId for item in parsed.item] == ["44250-9", "44255-8"]
    assert parsed.item[1].answer[0].valueCoding.code == "LA6571-9"


def test_gad7_exports_with_its_own_panel_and_total() -> None:
    answers = dict.fromkeys(range(1, 8), 1)
    resource = questionnaire_response(GAD7, uuid.uuid4(), answers, NOW, score(GAD7, answers))
    parsed = QuestionnaireResponse.model_validate(resource)
    assert parsed.questionnaire == "http://loinc.org/q/69737-5"
    assert parsed.item[-1].linkId == "70274-6"
    assert parsed.item[-1].answer[0].valueInteger == 7
