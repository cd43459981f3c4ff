"""Log lines: one JSON object each, with the request id, and nothing a participant said."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assessment_async.infra.logs import configure_logging
from assessment_core.settings import Settings
from tests.conftest import serving_http
from tests.images import frame, multipart

SECRET_MESSAGE = "my neighbour Ingrid Svensson keeps me awake"
PARTICIPANT_REF = "MRN-4471-2209"


@pytest.fixture(name="json_logs")
def _json_logs(settings: Settings) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(settings.model_copy(update={"log_level": "INFO", "log_format": "json"}),
                      stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_info_logs_carry_request_ids_and_no_answers_messages_or_tokens(
    settings: Settings, json_logs: io.StringIO,
) -> None:
    async with serving_http(settings) as url, httpx.AsyncClient(base_url=url) as http:
        created = await http.post("/api/sessions", json={"participant_ref": PARTICIPANT_REF},
                                  headers={"X-Request-ID": "create-1"})
        body = created.json()
        token, path = body["token"], f"/api/sessions/{body['session_id']}"
        auth = {"Authorization": f"Bearer {token}"}
        saved = await http.put(f"{path}/phq/responses/9", headers=auth, json={"answer": 3})
        chat = await http.post(f"{path}/chat", headers=auth, json={"message": SECRET_MESSAGE})
        upload, headers = multipart({"capture_type": "face"},
                                    [("frames", "f.png", "image/png", frame("PNG"))])
        frames = await http.post(f"{path}/captures", headers=auth | headers, content=upload)
        refused = await http.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert [r.status_code for r in (created, saved, chat, frames, refused)] == [
        201, 200, 200, 201, 401]
    answer_text = "".join(json.loads(line[6:]).get("delta", "") for line in
                          chat.text.splitlines() if line.startswith("data: "))

    everything = json_logs.getvalue()
    lines = log_lines(everything)
    access = [line for line in lines if line["logger"] == "assessment_async.access"]
    assert len(access) >= 5
    assert all({"time", "level", "request_id", "method", "route", "status", "duration_ms"}
               <= line.keys() for line in access)
    first = next(line for line in access if line["request_id"] == "create-1")
    assert (first["route"], first["status"]) == ("/api/sessions", 201)
    assert saved.headers["X-Request-ID"] in {line["request_id"] for line in access}
    for private in (token, SECRET_MESSAGE, PARTICIPANT_REF, answer_text, '"answer"'):
        assert private not in everything
