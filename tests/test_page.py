"""The reference page's files and headers, and the headers on a participant's data, in both
apps; a cross-origin page may send and read the request id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client

from assessment_core.settings import Settings
from assessment_core.web import CONTENT_SECURITY_POLICY
from tests.conftest import FRONTEND
from tests.images import frame, multipart

PAGE = {"/": "text/html", "/web/page.js": "text/javascript", "/web/page.css": "text/css",
        "/web/icon.svg": "image/svg+xml"}


@pytest.fixture(name="twin")
def _twin(settings: Settings) -> Iterator[Any]:
    from assessment_twin.app import create_app

    yield create_app(settings).test_client()


def check_page_headers(path: str, status: int, headers: Any, body: bytes) -> None:
    assert status == 200, path
    assert headers["Content-Type"].startswith(PAGE[path])
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert (headers["X-Content-Type-Options"], headers["Referrer-Policy"]) == ("nosniff",
                                                                              "no-referrer")
    # Nothing from another host: every script, style and fetch is this origin's (an SVG
    # names its XML namespace, which is no request).
    assert b"http://" not in body.replace(b"http://www.w3.org/2000/svg", b"")
    assert b"https://" not in body


async def test_the_asgi_app_serves_the_page(client: Client) -> None:
    for path in PAGE:
        response = await client.get(path)
        check_page_headers(path, response.status_code, response.headers,
                           await response.get_data(as_text=False))


def test_the_twin_serves_the_same_page(twin: Any) -> None:
    for path in PAGE:
        response = twin.get(path)
        check_page_headers(path, response.status_code, response.headers, response.data)


async def test_a_participants_data_is_never_cached(client: Client, twin: Any) -> None:
    created = await client.post("/api/sessions", json={})
    body = await created.get_json()
    auth = {"Authorization": f"Bearer {body['token']}"}
    summary = await client.get(f"/api/sessions/{body['session_id']}", headers=auth)
    twin_summary = twin.get(f"/api/sessions/{body['session_id']}", headers=auth)
    body_, headers_ = multipart({"capture_type": "face"},
                                [("frames", "a.png", "image/png", frame("PNG"))])
    batch = await client.post(f"/api/sessions/{body['session_id']}/captures", data=body_,
                              headers=auth | headers_)
    capture = f"/api/sessions/{body['session_id']}/captures/" \
              f"{(await batch.get_json())['captures'][0]['capture_id']}"
    image, twin_image = await client.get(capture, headers=auth), twin.get(capture, headers=auth)
    await image.get_data()
    twin_image.close()  # the twin streams the file: close it
    missing = await client.get(f"/api/sessions/{body['session_id']}/nothing", headers=auth)
    for headers in (created.headers, summary.headers, twin_summary.headers, image.headers,
                    twin_image.headers, missing.headers):
        assert headers["Cache-Control"] == "no-store"  # a face image as much as an answer
    assert "no-store" not in (await client.get("/api/instruments")).headers.get(
        "Cache-Control", "")


async def test_a_preflight_may_send_the_request_id(client: Client, twin: Any) -> None:
    preflight = {"Origin": FRONTEND, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "authorization,content-type,x-request-id"}
    path = "/api/sessions/8d3f1a7e-0000-4000-8000-000000000000/phq/responses/1"
    asgi = await client.options(path, headers=preflight)
    flask = twin.options(path, headers=preflight)
    for headers in (asgi.headers, flask.headers):
        allowed = headers["Access-Control-Allow-Headers"].lower()
        assert {"authorization", "content-type", "x-request-id"} <= {
            h.strip() for h in allowed.split(",")}
    read = await client.get("/api/instruments", headers={"Origin": FRONTEND})
    twin_read = twin.get("/api/instruments", headers={"Origin": FRONTEND})
    for headers in (read.headers, twin_read.headers):
        exposed = headers["Access-Control-Expose-Headers"].lower()
        assert {"x-clinical-alert", "retry-after", "x-request-id"} <= {
            h.strip() for h in exposed.split(",")}
