"""The twin's upstream client against the fake LLM: per token (the plan's relay) and per
read (TWIN_BATCH_WRITES) give the same answer and the same failures."""

from __future__ import annotations

import pytest

from assessment_core.chat import StreamResult, UpstreamError
from assessment_core.settings import Settings
from assessment_twin.llm_client import SyncLLMClient


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_per_read_batches_carry_the_same_answer(settings: Settings, fake_llm_url: str) -> None:
    client = SyncLLMClient(settings, fake_llm_url)
    tokens = list(client.stream_chat(ask("same {{fake-llm: seed=3}}"), StreamResult()))
    result = StreamResult()
    batches = list(client.stream_batches(ask("same {{fake-llm: seed=3}}"), result))
    assert [d for batch in batches for d in batch] == tokens and len(tokens) == 12
    assert all(batches) and result.finish_reason == "stop"


@pytest.mark.parametrize(("fault", "code"), [("fault=cut,fault_at=3", "UPSTREAM_BROKEN"),
                                              ("fault=malformed,fault_at=2",
                                               "UPSTREAM_MALFORMED"),
                                              ("fault=error,status=500", "UPSTREAM_ERROR")])
def test_per_read_batches_fail_as_per_token_does(settings: Settings, fake_llm_url: str,
                                                 fault: str, code: str) -> None:
    client = SyncLLMClient(settings, fake_llm_url)
    for stream in (client.stream_chat, client.stream_batches):
        seen: list[object] = []
        with pytest.raises(UpstreamError) as failure:
            seen.extend(stream(ask(f"x {{{{fake-llm: {fault}}}}}"), StreamResult()))
        assert failure.value.code == code, stream.__name__
