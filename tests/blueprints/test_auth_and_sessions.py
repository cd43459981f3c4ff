"""Sessions and their tokens: every session route refuses every wrong credential, leaks
nothing and changes nothing; tokens are stored only as their hash."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from assessment_async.app import create_app
from assessment_core.settings import Settings
from tests.conftest import Participant, new_participant
from tests.images import frame, multipart


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


SESSION_PREFIX = "/api/sessions/<uuid:sid>"
PNG = frame("PNG")


def session_routes() -> list[tuple[str, str]]:
    """Every (method, rule) under /api/sessions/<sid>, read from the app's URL map."""
    app = create_app(Settings(database_url="postgresql://routes@127.0.0.1/routes",
                              llm_base_url="http://127.0.0.1:9/v1"))
    return sorted((method, rule.rule) for rule in app.url_map.iter_rules()
                  if rule.rule.startswith(SESSION_PREFIX)
                  for method in rule.methods or () if method not in ("HEAD", "OPTIONS"))


@dataclass
class Victim:
    """A session with data of every kind, each piece carrying a marker only it has."""

    participant: Participant
    marker: str
    capture_id: str
    assessment_id: str

    @property
    def secrets(self) -> list[str]:
        return [self.marker, self.participant.token]


@dataclass
class Call:
    """A request the route would accept from the session's owner: only credentials differ."""

    params: Callable[[Victim], dict[str, str]] = lambda victim: {}
    json: Callable[[Victim], Any] | None = None
    upload: bool = False


# Every session route, with a request its owner could make; a new route must be added here.
CALLS = {
    ("GET", SESSION_PREFIX): Call(),
    ("GET", f"{SESSION_PREFIX}/phq"): Call(),
    ("GET", f"{SESSION_PREFIX}/phq/fhir"): Call(),
    ("PUT", f"{SESSION_PREFIX}/phq/responses/<question_id>"): Call(
        params=lambda v: {"question_id": "9"}, json=lambda v: {"answer": 0}),
    ("POST", f"{SESSION_PREFIX}/phq/submit"): Call(json=lambda v: {"responses": []}),
    ("GET", f"{SESSION_PREFIX}/instruments/<key>"): Call(params=lambda v: {"key": "gad7"}),
    ("GET", f"{SESSION_PREFIX}/instruments/<key>/fhir"): Call(
        params=lambda v: {"key": "phq9"}),
    ("PUT", f"{SESSION_PREFIX}/instruments/<key>/responses/<question_id>"): Call(
        params=lambda v: {"key": "gad7", "question_id": "7"}, json=lambda v: {"answer": 0}),
    ("POST", f"{SESSION_PREFIX}/instruments/<key>/submit"): Call(
        params=lambda v: {"key": "phq9"}, json=lambda v: {"responses": []}),
    ("POST", f"{SESSION_PREFIX}/chat"): Call(json=lambda v: {"message": "hello"}),
    ("GET", f"{SESSION_PREFIX}/chat/turns"): Call(),
    ("POST", f"{SESSION_PREFIX}/messages"): Call(
        json=lambda v: {"role": "user", "content": "hello"}),
    ("POST", f"{SESSION_PREFIX}/captures"): Call(upload=True),
    ("GET", f"{SESSION_PREFIX}/captures"): Call(),
    ("POST", f"{SESSION_PREFIX}/captures/link"): Call(
        json=lambda v: {"assessment_id": v.assessment_id, "assessment_type": "phq9"}),
    ("GET", f"{SESSION_PREFIX}/captures/<uuid:capture_id>"): Call(
        params=lambda v: {"capture_id": v.capture_id}),
}
ROUTES = session_routes()


def route_id(route: tuple[str, str]) -> str:
    method, rule = route
    return f"{method} {rule.removeprefix(SESSION_PREFIX) or '/'}"


def test_every_session_route_is_in_the_matrix() -> None:
    assert set(ROUTES) == set(CALLS), "add the new session routes to CALLS"


@pytest.fixture(name="victim")
async def _victim(client: Client) -> Victim:
    marker = f"victim-{uuid.uuid4().hex}"
    response = await client.post("/api/sessions", json={"participant_ref": marker})
    created = await response.get_json()
    p = Participant(uuid.UUID(created["session_id"]), created["token"])
    for item in range(1, 10):
        await client.put(p.url(f"/phq/responses/{item}"), json={"answer": 2}, headers=p.headers)
    submitted = await client.post(p.url("/phq/submit"), json={"responses": []},
                                  headers=p.headers)
    assert submitted.status_code == 201
    chat = await client.post(p.url("/chat"), json={"message": f"chat {marker}"},
                             headers=p.headers)
    assert chat.status_code == 200
    await chat.get_data()
    saved = await client.post(p.url("/messages"), headers=p.headers,
                              json={"role": "user", "content": f"note {marker}"})
    assert saved.status_code == 201
    body, headers = multipart({"capture_type": "face"}, [("frames", "a.png", "image/png", PNG)])
    batch = await client.post(p.url("/captures"), data=body, headers=p.headers | headers)
    assert batch.status_code == 201
    return Victim(p, marker, (await batch.get_json())["captures"][0]["capture_id"],
                  (await submitted.get_json())["assessment_id"])


async def send(client: Client, victim: Victim, route: tuple[str, str], session_id: str,
               authorization: str | None) -> Response:
    """The route's owner-like request, with the given session id and Authorization."""
    method, rule = route
    call = CALLS[route]
    values = {"sid": session_id, **call.params(victim)}
    path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], rule)
    headers = {"Authorization": authorization} if authorization is not None else {}
    if call.upload:
        body, upload_headers = multipart({"capture_type": "face"},
                                         [("frames", "b.png", "image/png", PNG)])
        return await client.post(path, data=body, headers=headers | upload_headers)
    payload = call.json(victim) if call.json else None
    return await client.open(path, method=method, json=payload, headers=headers)


async def snapshot(client: Client, victim: Victim) -> list[Any]:
    """Everything the victim can read about its session."""
    p = victim.participant
    return [await (await client.get(p.url(path), headers=p.headers)).get_data()
            for path in ("", "/phq", "/phq/fhir", "/chat/turns", "/captures")]


async def assert_refused(response: Response, status: int, code: str, victim: Victim) -> None:
    """A refusal in the contract's shape that carries none of the victim's data."""
    text = await response.get_data(as_text=True)
    assert (response.status_code, json.loads(text)["error"]["code"]) == (status, code), text
    body = json.loads(text)
    assert set(body) == {"error"}
    assert body["error"]["message"]
    for secret in victim.secrets:
        assert secret not in text


WRONG_TOKENS = [
    (None, "AUTH_REQUIRED"),
    ("Bearer", "INVALID_TOKEN"),
    ("Basic dXNlcjpwYXNz", "INVALID_TOKEN"),
    ("Bearer not-a-real-token", "INVALID_TOKEN"),
    ("Bearer " + "x" * 500, "INVALID_TOKEN"),
    ("Bearer tökén", "INVALID_TOKEN"),
]


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_session_routes_need_the_sessions_token(
    client: Client, victim: Victim, route: tuple[str, str],
) -> None:
    before = await snapshot(client, victim)
    for authorization, code in WRONG_TOKENS:
        response = await send(client, victim, route, str(victim.participant.session_id),
                              authorization)
        await assert_refused(response, 401, code, victim)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), authorization
    assert await snapshot(client, victim) == before


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_another_sessions_token_gets_404_and_no_data(
    client: Client, victim: Victim, route: tuple[str, str],
) -> None:
    other = await new_participant(client)
    before = await snapshot(client, victim)
    response = await send(client, victim, route, str(victim.participant.session_id),
                          f"Bearer {other.token}")
    await assert_refused(response, 404, "SESSION_NOT_FOUND", victim)
    assert str(victim.participant.session_id) in (await response.get_json())["error"]["message"]
    assert await snapshot(client, victim) == before


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_an_unknown_session_looks_like_anothers(
    client: Client, victim: Victim, route: tuple[str, str],
) -> None:
    before = await snapshot(client, victim)
    response = await send(client, victim, route, str(uuid.uuid4()),
                          f"Bearer {victim.participant.token}")
    await assert_refused(response, 404, "SESSION_NOT_FOUND", victim)
    assert await snapshot(client, victim) == before


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_malformed_session_ids_are_404_before_the_database(
    client: Client, victim: Victim, route: tuple[str, str],
) -> None:
    for bad_id in ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g",
                   "'; DROP TABLE sessions; --"]:
        response = await send(client, victim, route, bad_id,
                              f"Bearer {victim.participant.token}")
        await assert_refused(response, 404, "NOT_FOUND", victim)


async def test_tokens_are_stored_only_as_their_sha256(
    client: Client, victim: Victim, settings: Settings,
) -> None:
    token = victim.participant.token
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetchval("SELECT token_hash FROM sessions WHERE id = $1",
                                     victim.participant.session_id)
        assert stored == hashlib.sha256(token.encode()).digest()
        # Nor anywhere else in the database, after it opened a write of every kind.
        tables = await conn.fetch("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = 'public'")
        for (table,) in tables:
            holding = await conn.fetchval(
                f'SELECT count(*) FROM "{table}" AS t WHERE strpos(row_to_json(t)::text, $1) > 0 '
                f"OR strpos(row_to_json(t)::text, $2) > 0", token, token.encode().hex())
            assert holding == 0, f"{table} holds the plain token"
    finally:
        await conn.close()
