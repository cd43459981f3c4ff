"""The fake LLM speaks the protocol: the official openai SDK works against it unchanged."""

from __future__ import annotations

import httpx
import pytest
from openai import APIStatusError, AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from assessment_dev.fake_llm.launch import running_fake_llm
from assessment_dev.fake_llm.profile import Profile
from assessment_dev.fake_llm.text import answer_tokens

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "be kind"}, {"role": "user", "content": "hello"}]


def sdk(url: str, fault: str | None = None) -> AsyncOpenAI:
    headers = {"X-Fake-LLM": fault} if fault else None
    return AsyncOpenAI(base_url=url, api_key="anything", max_retries=0, default_headers=headers)


async def test_openai_sdk_streams(fake_llm_url: str) -> None:
    async with sdk(fake_llm_url) as client:
        stream = await client.chat.completions.create(
            model="fake-llm", messages=MESSAGES, stream=True,
            stream_options={"include_usage": True})
        deltas, finish, usage = [], None, None
        async for chunk in stream:
            if chunk.choices:
                deltas.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage
    assert "".join(deltas) == "".join(answer_tokens(7, "hello", 12))
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens == 12


async def test_openai_sdk_whole_answer(fake_llm_url: str) -> None:
    async with sdk(fake_llm_url) as client:
        answer = await client.chat.completions.create(
            model="m", messages=MESSAGES)
        models = await client.models.list()
    assert answer.choices[0].message.content == "".join(answer_tokens(7, "hello", 12))
    assert answer.usage is not None and answer.usage.total_tokens == 12 + 3
    assert [m.id for m in models.data] == ["fake-llm"]


async def test_openai_sdk_sees_injected_errors(fake_llm_url: str) -> None:
    async with sdk(fake_llm_url, "fault=error,status=429,retry_after=3") as client:
        with pytest.raises(APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "3"


def test_the_text_is_deterministic_per_seed_and_prompt() -> None:
    assert answer_tokens(1, "a", 5) == answer_tokens(1, "a", 5)
    assert answer_tokens(1, "a", 20) != answer_tokens(2, "a", 20)
    assert answer_tokens(1, "a", 20) != answer_tokens(1, "b", 20)


def test_profile_overrides_and_refuses_nonsense() -> None:
    profile = Profile().override("ttft=0.5,tokens=3,fault=cut,fault_at=2")
    assert (profile.ttft, profile.tokens, profile.fault, profile.fault_at) == (0.5, 3, "cut", 2)
    for bad in ("nope=1", "fault=explode", "jitter=2", "tokens=-1", "status=200", "ttft"):
        with pytest.raises(ValueError):
            Profile().override(bad)


async def test_bad_requests_and_bad_profiles_are_400(fake_llm_url: str) -> None:
    async with httpx.AsyncClient(base_url=fake_llm_url) as client:
        missing = await client.post("/chat/completions", json={"model": "m"})
        bad_profile = await client.post("/chat/completions", json={"messages": MESSAGES},
                                        headers={"X-Fake-LLM": "fault=explode"})
    assert missing.status_code == 400
    assert bad_profile.status_code == 400
    assert "fault must be one of" in bad_profile.json()["error"]["message"]


async def test_a_directive_in_the_prompt_overrides_the_profile(fake_llm_url: str) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "hello {{fake-llm: tokens=3,fault=error,status=503}}"}]
    async with sdk(fake_llm_url) as client:
        with pytest.raises(APIStatusError) as caught:
            await client.chat.completions.create(model="m", messages=messages)
    assert caught.value.status_code == 503


def test_it_counts_how_late_each_token_left_against_its_cadence() -> None:
    # A server of its own: nothing else streams from it meanwhile.
    with running_fake_llm("--ttft", "0.01", "--tokens", "12", "--gap", "0.002") as url:
        body = {"model": "fake-llm", "messages": MESSAGES, "stream": True}
        with httpx.stream("POST", f"{url}/chat/completions", json=body) as response:
            assert b"[DONE]" in response.read()
        stats = httpx.get(url.removesuffix("/v1") + "/_stats").json()
    assert sum(stats["late_tokens"]) == 12  # the wait before the first token, then each gap
    assert len(stats["late_tokens"]) == len(stats["lateness_edges_ms"]) + 1
