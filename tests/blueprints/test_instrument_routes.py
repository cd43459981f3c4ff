"""Every instrument over the API: the catalogue, GAD-7 scored exactly at each band's edges,
and a third instrument that is one new definition and nothing else, walked over HTTP."""

from __future__ import annotations

import httpx
import pytest
from quart.typing import TestClientProtocol as Client

from assessment_core import instruments
from assessment_core.instruments import GAD7, Band, Instrument, Item, Option
from assessment_core.settings import Settings
from tests.conftest import Participant, serving_http


async def test_the_catalogue_lists_what_a_page_renders_from(client: Client) -> None:
    response = await client.get("/api/instruments")
    assert response.status_code == 200
    listed = {i["key"]: i for i in (await response.get_json())["instruments"]}
    assert list(listed) == ["phq9", "gad7"]
    gad = listed["gad7"]
    assert [item["id"] for item in gad["items"]] == list(range(1, 8))
    assert [o["text"] for o in gad["items"][0]["options"]] == [
        "Not at all", "Several days", "More than half the days", "Nearly every day"]
    assert [(b["minimum"], b["maximum"], b["label"]) for b in gad["bands"]] == [
        (0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")]
    assert (gad["max_total"], gad["alerts"]) == (21, [])
    phq = listed["phq9"]
    assert phq["alerts"] == [{"item": 9, "above": 0, "code": "ITEM9_POSITIVE",
                              "message": phq["alerts"][0]["message"]}]
    assert phq["items"][9]["scored"] is False  # the difficulty question
    assert phq["bands"][-1] == {"minimum": 20, "maximum": 27, "label": "severe"}


def answers_totalling(total: int, items: int = 7) -> dict[int, int]:
    answers = {}
    for item in range(1, items + 1):
        answers[item] = min(3, total)
        total -= answers[item]
    return answers


@pytest.mark.parametrize(("total", "band"), [(0, "minimal"), (4, "minimal"), (5, "mild"),
                                             (9, "mild"), (10, "moderate"), (14, "moderate"),
                                             (15, "severe"), (21, "severe")])
async def test_gad7_is_scored_exactly_at_each_band_edge(client: Client, participant: Participant,
                                                        total: int, band: str) -> None:
    base = participant.url("/instruments/gad7")
    for item, answer in answers_totalling(total).items():
        saved = await client.put(f"{base}/responses/{item}", headers=participant.headers,
                                 json={"answer": answer})
        assert saved.status_code == 200
    submitted = await client.post(f"{base}/submit", headers=participant.headers, json={})
    body = await submitted.get_json()
    assert (submitted.status_code, body["total_score"], body["severity"]) == (201, total, band)
    assert body["instrument"] == "gad7" and "X-Clinical-Alert" not in submitted.headers
    phq = await client.get(participant.url("/phq"), headers=participant.headers)
    assert (await phq.get_json())["assessment"] is None  # PHQ-9 untouched


async def test_an_unknown_instrument_is_a_404_naming_the_known_ones(
    client: Client, participant: Participant,
) -> None:
    response = await client.get(participant.url("/instruments/bdi2"),
                                headers=participant.headers)
    error = (await response.get_json())["error"]
    assert (response.status_code, error["code"]) == (404, "UNKNOWN_INSTRUMENT")
    assert "phq9, gad7" in error["message"]


async def test_the_phq_alias_keeps_its_own_answer_range(client: Client,
                                                        participant: Participant) -> None:
    for path in ("/phq/responses/1", "/instruments/phq9/responses/1"):
        response = await client.put(participant.url(path), headers=participant.headers,
                                    json={"answer": 4})
        assert response.status_code == 422


# WHO-5: five items answered 0-5, which no other instrument here allows.
WHO5 = Instrument(
    key="who5", title="WHO-5 Well-Being Index", panel_loinc="89708-2", total_loinc="89709-0",
    items=tuple(Item(n, f"test-{n}", text, tuple(Option(v, f"LA-{v}", label) for v, label in
                                                 enumerate(("At no time", "Some of the time",
                                                            "Less than half of the time",
                                                            "More than half of the time",
                                                            "Most of the time",
                                                            "All of the time"))))
                for n, text in enumerate(("I have felt cheerful and in good spirits",
                                          "I have felt calm and relaxed",
                                          "I have felt active and vigorous",
                                          "I woke up feeling fresh and rested",
                                          "My daily life has been filled with things that "
                                          "interest me"), start=1)),
    bands=(Band(0, "poor"), Band(13, "adequate")),
)


async def test_a_third_instrument_is_one_definition(settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(instruments.INSTRUMENTS, WHO5.key, WHO5)
    async with serving_http(settings) as url, httpx.AsyncClient(base_url=url) as http:
        listed = (await http.get("/api/instruments")).json()["instruments"]
        assert [i["key"] for i in listed] == ["phq9", "gad7", "who5"]
        session = (await http.post("/api/sessions", json={})).json()
        auth = {"Authorization": f"Bearer {session['token']}"}
        base = f"/api/sessions/{session['session_id']}/instruments/who5"
        for item in range(1, 6):
            saved = await http.put(f"{base}/responses/{item}", headers=auth,
                                   json={"answer": 5 if item < 3 else 1})
            assert saved.status_code == 200, saved.text
        assert (await http.put(f"{base}/responses/1", headers=auth,
                               json={"answer": 6})).status_code == 422
        submitted = await http.post(f"{base}/submit", headers=auth, json={})
        assert (submitted.status_code, submitted.json()["total_score"],
                submitted.json()["severity"]) == (201, 13, "adequate")
        fhir = (await http.get(f"{base}/fhir", headers=auth)).json()
        assert fhir["questionnaire"] == "http://loinc.org/q/89708-2"
        summary = (await http.get(f"/api/sessions/{session['session_id']}",
                                  headers=auth)).json()
        assert summary["instruments"]["who5"] == {
            "answered": 5, "items": 5, "submitted": True, "flagged": False,
            "assessment_id": submitted.json()["assessment_id"]}


def test_gad7_has_no_safety_item() -> None:
    assert GAD7.safety is None and GAD7.max_total == 21
