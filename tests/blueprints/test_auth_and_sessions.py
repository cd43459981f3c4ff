from __future__ import annotations

import uuid

import pytest
from quart.typing import TestClientProtocol as Client

from tests.conftest import Participant, new_participant


async def test_create_session_returns_a_token_once(client: Client) -> None:
    response = await client.post("/api/sessions", json={"participant_ref": "study-42"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"session_id", "token", "created_at"}
    uuid.UUID(body["session_id"])
    summary = await client.get(f"/api/sessions/{body['session_id']}",
                               headers={"Authorization": f"Bearer {body['token']}"})
    assert summary.status_code == 200
    data = await summary.get_json()
    assert data["participant_ref"] == "study-42"
    assert "token" not in data
    assert data["phq"] == {"answered": 0, "submitted": False, "assessment_id": None,
                           "item9_positive": False}


async def test_create_session_refuses_unknown_fields(client: Client) -> None:
    response = await client.post("/api/sessions", json={"participant": "x"})
    assert response.status_code == 422
    body = await response.get_json()
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert body["error"]["details"][0]["field"] == "participant"


SESSION_ROUTES = [
    ("GET", ""),
    ("GET", "/phq"),
    ("GET", "/phq/fhir"),
    ("PUT", "/phq/responses/1"),
    ("POST", "/phq/submit"),
]
BODIES = {"PUT": {"answer": 1}, "POST": {"responses": []}}


@pytest.mark.parametrize(("method", "path"), SESSION_ROUTES)
@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 401, "AUTH_REQUIRED"),
        ("Bearer", 401, "INVALID_TOKEN"),
        ("Basic dXNlcjpwYXNz", 401, "INVALID_TOKEN"),
        ("Bearer not-a-real-token", 401, "INVALID_TOKEN"),
        ("Bearer " + "x" * 500, 401, "INVALID_TOKEN"),
        ("Bearer tökén", 401, "INVALID_TOKEN"),
    ],
)
async def test_session_routes_need_the_sessions_token(
    client: Client, participant: Participant, method: str, path: str,
    authorization: str | None, status: int, code: str,
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.open(participant.url(path), method=method, headers=headers,
                                 json=BODIES.get(method))
    assert response.status_code == status
    body = await response.get_json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path"), SESSION_ROUTES)
async def test_another_sessions_token_gets_404_and_no_data(
    client: Client, participant: Participant, method: str, path: str,
) -> None:
    other = await new_participant(client)
    response = await client.open(participant.url(path), method=method, headers=other.headers,
                                 json=BODIES.get(method))
    assert response.status_code == 404
    body = await response.get_json()
    assert body["error"]["code"] == "SESSION_NOT_FOUND"
    assert str(participant.session_id) in body["error"]["message"]
    assert set(body) == {"error"}


async def test_an_unknown_session_looks_like_anothers(
    client: Client, participant: Participant,
) -> None:
    response = await client.get(f"/api/sessions/{uuid.uuid4()}", headers=participant.headers)
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "SESSION_NOT_FOUND"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g",
                                    "'; DROP TABLE sessions; --"])
async def test_malformed_session_ids_are_404_before_the_database(
    client: Client, participant: Participant, bad_id: str,
) -> None:
    response = await client.get(f"/api/sessions/{bad_id}/phq", headers=participant.headers)
    assert response.status_code == 404
    assert (await response.get_json())["error"]["code"] == "NOT_FOUND"
