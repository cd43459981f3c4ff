from __future__ import annotations

import socket
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from assessment_async.app import create_app
from assessment_core.settings import Settings
from tests.conftest import FRONTEND, Participant


# Bytes that are not UTF-8 are malformed JSON too, not a failure of the server.
@pytest.mark.parametrize("payload", [b'{"answer": ', b"\xff", b'{"answer": "\xe9"}'])
async def test_malformed_json_is_400(
    client: Client, participant: Participant, payload: bytes,
) -> None:
    response = await client.put(participant.url("/phq/responses/1"), data=payload,
                                headers=participant.headers | {"Content-Type": "application/json"})
    assert response.status_code == 400
    body = await response.get_json()
    assert body["error"]["code"] == "MALFORMED_JSON"
    assert "not valid JSON" in body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [("", {"participant_ref": "study\x00"}, "participant_ref"),
     ("/chat", {"message": "hello\x00"}, "message"),
     ("/messages", {"role": "user", "content": "\x00hi"}, "content"),
     ("/messages", {"role": "user", "content": "hi", "metadata": {"k": [{"\x00": 1}]}},
      "metadata")],
)
async def test_nul_characters_are_422_not_a_database_failure(
    client: Client, participant: Participant, path: str, body: dict[str, Any], field: str,
) -> None:
    # PostgreSQL's text and jsonb cannot hold U+0000; the models refuse it first.
    url = participant.url(path) if path else "/api/sessions"
    response = await client.post(url, json=body, headers=participant.headers)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("payload", [b"[]", b"3", b'"answer"', b"null"])
async def test_json_that_is_not_an_object_is_422(
    client: Client, participant: Participant, payload: bytes,
) -> None:
    response = await client.put(participant.url("/phq/responses/1"), data=payload,
                                headers=participant.headers | {"Content-Type": "application/json"})
    assert response.status_code == 422
    assert (await response.get_json())["error"]["code"] == "VALIDATION_ERROR"


async def test_a_body_that_is_not_json_is_415(
    client: Client, participant: Participant,
) -> None:
    response = await client.put(participant.url("/phq/responses/1"), data=b"answer=1",
                                headers=participant.headers
                                | {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert "application/json" in (await response.get_json())["error"]["message"]


async def test_a_body_over_the_cap_is_413(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    too_big = b'{"answer": 1, "pad": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.put(participant.url("/phq/responses/1"), data=too_big,
                                headers=participant.headers | {"Content-Type": "application/json"})
    assert response.status_code == 413
    body = await response.get_json()
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert str(settings.max_body_bytes) in body["error"]["message"]


async def test_unknown_paths_and_methods(client: Client) -> None:
    missing = await client.get("/api/nothing")
    assert (missing.status_code, (await missing.get_json())["error"]["code"]) == (404, "NOT_FOUND")
    wrong = await client.delete("/api/sessions")
    assert wrong.status_code == 405
    assert (await wrong.get_json())["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_health_and_readiness(client: Client) -> None:
    assert (await (await client.get("/healthz")).get_json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, await ready.get_json()) == (200, {"status": "ready",
                                                              "storage": "ok"})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_database_down_gives_503_with_retry_after() -> None:
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/nowhere"
    app = create_app(Settings(database_url=url, llm_base_url="http://127.0.0.1:9/v1",
                              db_connect_timeout=1))
    async with app.test_app():
        client = app.test_client()
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["Retry-After"]
        assert (await ready.get_json())["status"] == "unavailable"
        assert (await client.get("/healthz")).status_code == 200

        response = await client.post("/api/sessions", json={})
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        body = await response.get_json()
        assert body["error"]["code"] == "DATABASE_UNAVAILABLE"
        assert "retry" in body["error"]["message"]


async def test_cors_allows_the_configured_frontend_only(client: Client) -> None:
    preflight = await client.options(
        "/api/sessions",
        headers={"Origin": FRONTEND, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.headers["Access-Control-Allow-Origin"] == FRONTEND
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    other = await client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_openapi_and_docs_are_served(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    assert "/api/sessions/{sid}/phq/responses/{question_id}" in spec["paths"]
    put = spec["paths"]["/api/sessions/{sid}/phq/responses/{question_id}"]["put"]
    assert "AnswerIn" in str(put["requestBody"])
    assert spec["components"]["securitySchemes"]["session_token"]["scheme"] == "bearer"
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if "{sid}" in path:  # every session route documents its refusals
                assert {"401", "404"} <= set(map(str, operation["responses"])), (method, path)
                assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
            else:
                assert operation["security"] == [], (method, path)
    chat = spec["paths"]["/api/sessions/{sid}/chat"]["post"]["responses"]
    assert list(chat["200"]["content"]) == ["text/event-stream"]
    fhir = spec["paths"]["/api/sessions/{sid}/phq/fhir"]["get"]["responses"]
    assert list(fhir["200"]["content"]) == ["application/fhir+json"]
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in await docs.get_data(as_text=True)
