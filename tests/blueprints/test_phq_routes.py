from __future__ import annotations

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from quart.typing import TestClientProtocol as Client

from tests.conftest import Participant


async def put_answer(client: Client, p: Participant, item: int | str,
                     answer: object) -> tuple[int, dict]:
    response = await client.put(p.url(f"/phq/responses/{item}"), headers=p.headers,
                                json={"answer": answer})
    return response.status_code, await response.get_json()


async def answer_all(client: Client, p: Participant, answers: dict[int, int]) -> None:
    for item, answer in answers.items():
        status, _ = await put_answer(client, p, item, answer)
        assert status == 200


async def test_saving_one_answer(client: Client, participant: Participant) -> None:
    status, body = await put_answer(client, participant, 4, 2)
    assert status == 200
    assert (body["question_id"], body["answer"]) == (4, 2)
    assert body["updated_at"].endswith("+00:00")
    status, body = await put_answer(client, participant, 4, 0)
    assert (status, body["answer"]) == (200, 0)
    state = await (await client.get(participant.url("/phq"),
                                    headers=participant.headers)).get_json()
    assert [(r["question_id"], r["answer"]) for r in state["responses"]] == [(4, 0)]
    assert state["assessment"] is None


@pytest.mark.parametrize(
    ("item", "answer", "field"),
    [(1, 4, "answer"), (1, -1, "answer"), (1, "2", "answer"), (1, True, "answer"),
     (1, 1.5, "answer"), (1, None, "answer"), (0, 1, "question_id"), (11, 1, "question_id"),
     ("nine", 1, "question_id"), (10, 4, "answer")],
)
async def test_invalid_answers_are_422_naming_the_field(
    client: Client, participant: Participant, item: int | str, answer: object,
    field: str,
) -> None:
    status, body = await put_answer(client, participant, item, answer)
    assert status == 422
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert field in body["error"]["message"] or body["error"]["details"][0]["field"] == field
    assert body["error"]["details"][0]["field"] == field


async def test_submit_scores_and_flags_item9(
    client: Client, participant: Participant,
) -> None:
    await answer_all(client, participant, {1: 3, 2: 3, 3: 2, 4: 2, 5: 1, 6: 1, 7: 0, 8: 0})
    response = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                                 json={"responses": [{"question_id": 9, "answer": 1},
                                                     {"question_id": 10, "answer": 2}]})
    assert response.status_code == 201
    body = await response.get_json()
    assert (body["total_score"], body["severity"], body["item9_positive"], body["difficulty"]) \
        == (13, "moderate", True, 2)
    assert [a["code"] for a in body["alerts"]] == ["ITEM9_POSITIVE"]
    assert response.headers["X-Clinical-Alert"] == "item9-positive"

    repeat = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                               json={"responses": []})
    assert repeat.status_code == 200
    assert await repeat.get_json() == body

    summary = await (await client.get(participant.url(), headers=participant.headers)).get_json()
    assert summary["phq"] == {"answered": 10, "submitted": True,
                              "assessment_id": body["assessment_id"], "item9_positive": True}
    state = await client.get(participant.url("/phq"), headers=participant.headers)
    assert state.headers["X-Clinical-Alert"] == "item9-positive"
    assert (await state.get_json())["assessment"] == body


async def test_no_alert_when_item9_is_zero(
    client: Client, participant: Participant,
) -> None:
    response = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                                 json={"responses": [{"question_id": q, "answer": 3}
                                                     for q in range(1, 9)]
                                       + [{"question_id": 9, "answer": 0}]})
    body = await response.get_json()
    assert (response.status_code, body["total_score"], body["severity"]) == (201, 24, "severe")
    assert (body["item9_positive"], body["alerts"], body["difficulty"]) == (False, [], None)
    assert "X-Clinical-Alert" not in response.headers


async def test_submit_with_missing_items_lists_them_and_saves_nothing(
    client: Client, participant: Participant,
) -> None:
    response = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                                 json={"responses": [{"question_id": 1, "answer": 1}]})
    assert response.status_code == 422
    body = await response.get_json()
    assert body["error"]["code"] == "INCOMPLETE_QUESTIONNAIRE"
    assert "[2, 3, 4, 5, 6, 7, 8, 9]" in body["error"]["message"]
    assert len(body["error"]["details"]) == 8
    state = await (await client.get(participant.url("/phq"),
                                    headers=participant.headers)).get_json()
    assert state["responses"] == []


@pytest.mark.parametrize(
    ("responses", "field"),
    [([{"question_id": 12, "answer": 1}], "responses.0.question_id"),
     ([{"question_id": 1, "answer": 1}, {"question_id": 2, "answer": 7}], "responses.1.answer"),
     ([{"question_id": 1, "answer": 1}, {"question_id": 1, "answer": 2}],
      "responses.1.question_id"),
     ([{"question_id": 1}], "responses.0.answer")],
)
async def test_submit_validates_each_response(
    client: Client, participant: Participant, responses: list, field: str,
) -> None:
    response = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                                 json={"responses": responses})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["details"][0]["field"] == field


async def test_answers_are_locked_after_submit(
    client: Client, participant: Participant,
) -> None:
    await answer_all(client, participant, dict.fromkeys(range(1, 10), 1))
    assert (await client.post(participant.url("/phq/submit"), headers=participant.headers,
                              json={})).status_code == 201
    status, body = await put_answer(client, participant, 3, 2)
    assert (status, body["error"]["code"]) == (409, "ALREADY_SUBMITTED")
    changed = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                                json={"responses": [{"question_id": 3, "answer": 2}]})
    assert changed.status_code == 409
    assert "[3]" in (await changed.get_json())["error"]["message"]
    same = await client.post(participant.url("/phq/submit"), headers=participant.headers,
                             json={"responses": [{"question_id": 3, "answer": 1}]})
    assert same.status_code == 200


async def test_fhir_export_validates_as_questionnaire_response(
    client: Client, participant: Participant,
) -> None:
    await answer_all(client, participant, {1: 1, 2: 2})
    partial = await client.get(participant.url("/phq/fhir"), headers=participant.headers)
    assert partial.status_code == 200
    assert partial.headers["Content-Type"] == "application/fhir+json"
    doc = QuestionnaireResponse.model_validate(await partial.get_json())
    assert doc.status == "in-progress" and doc.item is not None and len(doc.item) == 2

    await answer_all(client, participant, dict.fromkeys(range(3, 10), 0) | {10: 0})
    await client.post(participant.url("/phq/submit"), headers=participant.headers, json={})
    done = await client.get(participant.url("/phq/fhir"), headers=participant.headers)
    doc = QuestionnaireResponse.model_validate(await done.get_json())
    assert doc.status == "completed"
    assert doc.questionnaire == "http://loinc.org/q/44249-1"
    assert doc.item is not None and doc.item[-1].linkId == "44261-6"
    total = doc.item[-1].answer
    assert total is not None and total[0].valueInteger == 3
    assert doc.authored is not None
