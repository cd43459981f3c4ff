"""The twin's relay interval (CHAT_RELAY_INTERVAL_MS with TWIN_BATCH_WRITES): the tokens that
come within the interval of the last write go out together in the next, none is lost, and the
turn is stored whole."""

from __future__ import annotations

from typing import Any

from assessment_core.settings import Settings
from assessment_twin.app import create_app
from tests.sse import parse_events


def relayed(settings: Settings, upstream: str) -> tuple[list[bytes], Any, list[dict[str, Any]]]:
    """The writes of one chat through the twin (relay interval 100 ms), its events, its turns."""
    app = create_app(settings.model_copy(update={
        "twin_batch_writes": True, "chat_relay_interval_ms": 100,
        "llm_extra_headers": {"X-Fake-LLM": upstream}}))
    client = app.test_client()
    session = client.post("/api/sessions", json={}).get_json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    url = f"/api/sessions/{session['session_id']}/chat"
    response = client.post(url, json={"message": "batch it"}, headers=headers, buffered=False)
    writes = [bytes(chunk) for chunk in response.iter_encoded() if chunk.strip()]
    turns = client.get(f"/api/sessions/{session['session_id']}/chat/turns", headers=headers)
    return writes, parse_events(b"".join(writes).decode()), turns.get_json()


def test_tokens_within_the_interval_share_a_write_and_all_arrive(settings: Settings) -> None:
    writes, events, [turn] = relayed(settings, "tokens=20,gap=0.01")
    tokens = [data["delta"] for name, data in events if name == "token"]
    assert len(tokens) == 20 and events[-1][0] == "done"
    token_writes = [chunk for chunk in writes if b"event: token" in chunk]
    assert 1 < len(token_writes) < 10  # about one per 100 ms of a 200 ms answer
    assert turn["ai_message"] == "".join(tokens) and turn["status"] == "complete"


def test_tokens_held_when_the_upstream_breaks_reach_the_client_before_the_error(
    settings: Settings,
) -> None:
    _, events, [turn] = relayed(settings, "tokens=20,gap=0.01,fault=cut,fault_at=8")
    tokens = [data["delta"] for name, data in events if name == "token"]
    assert len(tokens) == 8 and events[-1][0] == "error"
    assert (turn["status"], turn["ai_message"]) == ("partial", "".join(tokens))
