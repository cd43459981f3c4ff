"""The twin's chat admission (TWIN_CHAT_ADMISSION): its lag watcher sees a worker whose
interpreter is held, and the chat route refuses while it lags, before any work."""

from __future__ import annotations

import time
from typing import Any

import httpx

from assessment_core.settings import Settings
from assessment_twin.admission import watched_gauge
from assessment_twin.app import create_app


def hold_the_interpreter(seconds: float) -> None:
    """Keep every other thread from running for about `seconds`, as a full core does: one
    long C call, inside which the interpreter lock is never handed over."""
    started = time.perf_counter()
    sum(range(100_000))
    per_item = (time.perf_counter() - started) / 100_000
    sum(range(int(seconds / per_item)))


def lag_four_ticks() -> None:
    for _ in range(4):
        hold_the_interpreter(0.04)
        time.sleep(0.001)  # the watcher's late tick runs; its next falls in a hold


def test_the_watcher_sees_a_held_interpreter_and_its_recovery() -> None:
    gauge = watched_gauge(15)
    time.sleep(0.1)
    assert gauge.admits_chat() and gauge.lag < 0.015
    lag_four_ticks()
    assert gauge.lag > 0.015 and not gauge.admits_chat() and gauge.refused == 1
    time.sleep(0.1)
    assert gauge.admits_chat()


def test_admission_off_starts_no_watcher_and_admits_all() -> None:
    gauge = watched_gauge(0)
    lag_four_ticks()
    assert gauge.lag == 0 and gauge.admits_chat()


def upstream_requests(settings: Settings) -> int:
    assert settings.llm_base_url is not None
    stats: dict[str, Any] = httpx.get(settings.llm_base_url.removesuffix("/v1") + "/_stats").json()
    return int(stats["requests"])


def test_the_twin_refuses_a_chat_while_it_lags(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"twin_chat_admission": True,
                                                 "chat_admit_lag_ms": 15}))
    client = app.test_client()
    session = client.post("/api/sessions", json={}).get_json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    url = f"/api/sessions/{session['session_id']}/chat"
    before = upstream_requests(settings)
    lag_four_ticks()
    refused = client.post(url, json={"message": "hello?"}, headers=headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
    assert refused.get_json()["error"]["code"] == "LLM_BUSY"
    turns = client.get(f"/api/sessions/{session['session_id']}/chat/turns", headers=headers)
    assert turns.get_json() == [] and upstream_requests(settings) == before
    time.sleep(0.1)
    served = client.post(url, json={"message": "hello again"}, headers=headers)
    assert served.status_code == 200 and b"event: done" in served.get_data()
