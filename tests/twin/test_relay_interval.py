"""The twin's relay interval (CHAT_RELAY_INTERVAL_MS with TWIN_BATCH_WRITES): the tokens that
come within the interval of the last write go out together in the next, none is lost, and the
turn is stored whole."""

from __future__ import annotations

from assessment_core.settings import Settings
from assessment_twin.app import create_app
from tests.sse import parse_events


def test_tokens_within_the_interval_share_a_write_and_all_arrive(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={
        "twin_batch_writes": True, "chat_relay_interval_ms": 100,
        "llm_extra_headers": {"X-Fake-LLM": "tokens=20,gap=0.01"}}))
    client = app.test_client()
    session = client.post("/api/sessions", json={}).get_json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    url = f"/api/sessions/{session['session_id']}/chat"
    response = client.post(url, json={"message": "batch it"}, headers=headers, buffered=False)
    writes = [bytes(chunk) for chunk in response.iter_encoded() if chunk.strip()]
    events = parse_events(b"".join(writes).decode())
    tokens = [data["delta"] for name, data in events if name == "token"]
    assert len(tokens) == 20 and events[-1][0] == "done"
    token_writes = [chunk for chunk in writes if b"event: token" in chunk]
    assert 1 < len(token_writes) < 10  # about one per 100 ms of a 200 ms answer
    turns = client.get(f"/api/sessions/{session['session_id']}/chat/turns", headers=headers)
    [turn] = turns.get_json()
    assert turn["ai_message"] == "".join(tokens) and turn["status"] == "complete"
