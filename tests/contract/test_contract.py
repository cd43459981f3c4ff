"""One contract, every variant: the same statuses, headers and bodies over real HTTP."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract.conftest import CONTRACT_VARIANTS, S3_TARGETS, ObjectStore
from tests.contract.transcript import walk

Entries = list[tuple[str, int, dict[str, str], Any]]


def new_session(http: httpx.Client) -> tuple[str, dict[str, str]]:
    """(the session's path, its Authorization header)."""
    session = http.post("/api/sessions", json={}).json()
    return (f"/api/sessions/{session['session_id']}",
            {"Authorization": f"Bearer {session['token']}"})


def settled_turn(http: httpx.Client, base: str, auth: dict[str, str]) -> dict[str, Any]:
    """The session's one turn once it is no longer streaming (or after 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        [turn] = http.get(f"{base}/chat/turns", headers=auth).json()
        if turn["status"] != "streaming" or time.monotonic() > deadline:
            return dict(turn)
        time.sleep(0.1)


@pytest.fixture(name="reference", scope="session")
def _reference(contract_servers: dict[str, str]) -> Entries:
    """The ASGI app's walk (each step checked its status on the way)."""
    return walk(contract_servers["asgi"])


def test_the_asgi_app_walks_the_whole_contract(reference: Entries) -> None:
    by_name = {name: (status, body) for name, status, _, body in reference}
    submit_status, submit = by_name["submit"]
    assert (submit_status, submit["total_score"], submit["severity"]) == (201, 17,
                                                                          "moderately severe")
    assert submit["item9_positive"] is True
    gad_status, gad = by_name["gad7 submit"]
    assert (gad_status, gad["total_score"], gad["severity"], gad["alerts"]) == (
        201, 13, "moderate", [])
    assert by_name["gad7 repeat submit"][1] == gad
    fhir = by_name["gad7 fhir"][1]
    assert fhir["questionnaire"] == "http://loinc.org/q/69737-5"
    assert fhir["item"][-1] == {"linkId": "70274-6", "answer": [{"valueInteger": 13}],
                                "text": "Generalized anxiety disorder 7 item (GAD-7) total score"}
    both = by_name["summary with both"][1]
    assert both["instruments"]["gad7"]["submitted"] and both["instruments"]["phq9"]["flagged"]
    assert both["phq"]["item9_positive"] is True
    keys = [i["key"] for i in by_name["instruments"][1]["instruments"]]
    assert keys == ["phq9", "gad7"]
    bands = {0: "minimal", 4: "minimal", 5: "mild", 9: "mild", 10: "moderate", 14: "moderate",
             15: "severe", 21: "severe"}
    for total, band in bands.items():
        edge = by_name[f"gad7 submit totalling {total}"][1]
        assert (edge["total_score"], edge["severity"]) == (total, band)
    chat = by_name["chat"][1]
    assert chat.count("event: token") == 12 and "event: done" in chat
    assert "UPSTREAM_BROKEN" in by_name["chat with fault=cut,fault_at=3"][1]
    turns = by_name["turns"][1]
    assert [t["status"] for t in turns] == ["complete", "complete", "failed", "failed",
                                            "partial", "partial", "partial", "complete"]
    limited_status, limited = by_name["chat over the per-minute limit"]
    assert (limited_status, limited["error"]["code"]) == (429, "CHAT_RATE_LIMITED")
    assert by_name["link"][1] == {"linked": 2}
    assert by_name["link again"][1] == {"linked": 0}


@pytest.mark.parametrize("variant", [v for v in CONTRACT_VARIANTS if v != "asgi"])
def test_every_variant_answers_as_the_asgi_app_does(
    variant: str, contract_servers: dict[str, str], reference: Entries,
) -> None:
    entries = walk(contract_servers[variant])
    for expected, got in zip(reference, entries, strict=True):
        assert got == expected, f"{variant} differs at step {expected[0]!r}"


@pytest.mark.parametrize("target", [t for t, v in S3_TARGETS.items() if v in CONTRACT_VARIANTS])
def test_frames_kept_in_s3_answer_the_same_and_never_touch_the_disk(
    target: str, contract_servers: dict[str, str], reference: Entries,
    object_store: ObjectStore, capture_dirs: dict[str, Path],
) -> None:
    entries = walk(contract_servers[target])
    for expected, got in zip(reference, entries, strict=True):
        assert got == expected, f"{target} differs at step {expected[0]!r}"
    # The walk stored three frames (two in one batch, one in another session's); the
    # refused uploads stored none.
    assert len(object_store.keys(target)) == 3
    on_disk = [p for p in capture_dirs[target].rglob("*") if p.is_file()] \
        if capture_dirs[target].exists() else []
    assert on_disk == []


@pytest.mark.parametrize("variant", CONTRACT_VARIANTS)
def test_a_client_that_leaves_mid_stream_leaves_a_partial_turn(
    variant: str, contract_servers: dict[str, str],
) -> None:
    with httpx.Client(base_url=contract_servers[variant], timeout=30) as http:
        base, auth = new_session(http)
        message = {"message": "stay {{fake-llm: tokens=400,gap=0.01}}"}
        with http.stream("POST", f"{base}/chat", json=message, headers=auth) as response:
            seen = 0
            for line in response.iter_lines():
                seen += line.startswith("event: token")
                if seen == 3:
                    break
        turn = settled_turn(http, base, auth)
        assert (turn["status"], turn["error_code"]) == ("partial", "CLIENT_DISCONNECTED")
        assert len(turn["ai_message"].split()) >= 3


@pytest.mark.parametrize("variant", CONTRACT_VARIANTS)
def test_a_turn_waiting_for_its_first_token_keeps_its_stream_alive(
    variant: str, contract_servers: dict[str, str],
) -> None:
    with httpx.Client(base_url=contract_servers[variant], timeout=30) as http:
        base, auth = new_session(http)
        message = {"message": "slow {{fake-llm: ttft=0.9}}"}  # under LLM_READ_TIMEOUT (1 s)
        response = http.post(f"{base}/chat", json=message, headers=auth)
    body = response.text
    assert "event: token" in body, body[-600:]
    before_first_token = body.split("event: token", 1)[0]
    # One comment every 0.25 s (CHAT_KEEPALIVE_SECONDS) of the 0.9 s wait, then the answer.
    assert before_first_token.count(": waiting for the first token\n\n") >= 2, body[-600:]
    assert ": waiting" not in body.split("event: token", 1)[1]
    assert body.count("event: token") == 12 and "event: done" in body


@pytest.mark.parametrize("variant", CONTRACT_VARIANTS)
def test_a_client_that_leaves_before_the_first_token_leaves_a_failed_turn(
    variant: str, contract_servers: dict[str, str],
) -> None:
    with httpx.Client(base_url=contract_servers[variant], timeout=30) as http:
        base, auth = new_session(http)
        message = {"message": "slow {{fake-llm: ttft=0.9}}"}
        with http.stream("POST", f"{base}/chat", json=message, headers=auth) as response:
            for line in response.iter_lines():
                if line.startswith(": waiting"):
                    break  # gone while the turn waits for its first token
        turn = settled_turn(http, base, auth)
        assert (turn["status"], turn["error_code"]) == ("failed", "CLIENT_DISCONNECTED")
        # The turn is not left streaming: the session's next chat streams to the end.
        again = http.post(f"{base}/chat", json={"message": "still there?"}, headers=auth)
        assert "event: done" in again.text
