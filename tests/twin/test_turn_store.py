"""The twin stores a turn's end as the ASGI app does: a database that is restarting is
waited for (up to SAVE_RETRY_SECONDS), so the turn is not left `streaming`, which would refuse
the session's next chat; any other failure is logged and reported at once."""

from __future__ import annotations

from typing import Any

import psycopg2
import pytest

from assessment_core.chat import StreamResult
from assessment_twin.services import chat_turns
from assessment_twin.services.llm import LLMConversationService


def flaky(failures: list[BaseException]) -> tuple[list[int], Any]:
    calls: list[int] = []

    def finish_turn(*args: Any) -> None:
        calls.append(1)
        if failures:
            raise failures.pop(0)

    return calls, finish_turn


def test_a_restarting_database_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    down = psycopg2.OperationalError("terminating connection due to administrator command")
    calls, finish_turn = flaky([down, down])
    monkeypatch.setattr(LLMConversationService, "finish_turn", staticmethod(finish_turn))
    monkeypatch.setattr(chat_turns.time, "sleep", lambda seconds: None)
    stored = chat_turns.store(chat_turns.UUID(int=1), ["hi"], "complete", None, StreamResult())
    assert stored is True and len(calls) == 3


def test_any_other_failure_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, finish_turn = flaky([ValueError("a bug")])
    monkeypatch.setattr(LLMConversationService, "finish_turn", staticmethod(finish_turn))
    stored = chat_turns.store(chat_turns.UUID(int=1), ["hi"], "complete", None, StreamResult())
    assert stored is False and len(calls) == 1
