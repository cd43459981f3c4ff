"""The chat against the fake LLM as a real server, including its injected faults."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from quart import Quart
from quart.typing import TestClientProtocol as Client

from assessment_core.admission import FLOOR
from assessment_core.settings import Settings
from assessment_dev.fake_llm.text import answer_tokens
from tests.conftest import Participant, new_participant, serving
from tests.sse import parse_events

SEED, TOKENS = 7, 12  # the session's fake LLM profile (tests/conftest.py)


async def chat(client: Client, p: Participant, message: str) -> tuple[int, list[tuple[str, Any]]]:
    response = await client.post(p.url("/chat"), headers=p.headers, json={"message": message})
    body = await response.get_data(as_text=True)
    if response.status_code != 200:
        return response.status_code, [("json", await response.get_json())]
    assert response.mimetype == "text/event-stream"
    return 200, parse_events(body)


async def turns(client: Client, p: Participant) -> list[dict[str, Any]]:
    response = await client.get(p.url("/chat/turns"), headers=p.headers)
    assert response.status_code == 200
    result: list[dict[str, Any]] = await response.get_json()
    return result


def fake_stats(settings: Settings) -> dict[str, Any]:
    assert settings.llm_base_url is not None
    stats: dict[str, Any] = httpx.get(settings.llm_base_url.removesuffix("/v1") + "/_stats").json()
    return stats


async def test_a_turn_is_stored_exactly_as_streamed(
    client: Client, participant: Participant,
) -> None:
    status, events = await chat(client, participant, "I have been sleeping badly")
    assert status == 200
    names = [name for name, _ in events]
    assert names == ["token"] * TOKENS + ["done"]
    streamed = "".join(data["delta"] for name, data in events if name == "token")
    assert streamed == "".join(answer_tokens(SEED, "I have been sleeping badly", TOKENS))
    done = events[-1][1]
    assert done == {"turn_number": 1, "status": "complete", "finish_reason": "stop",
                    "completion_tokens": TOKENS}
    [turn] = await turns(client, participant)
    assert (turn["turn_number"], turn["user_message"], turn["ai_message"], turn["status"]) == (
        1, "I have been sleeping badly", streamed, "complete")
    assert turn["completed_at"] >= turn["created_at"]


async def test_the_prompt_carries_the_system_prompt_and_earlier_turns(
    client: Client, participant: Participant, settings: Settings,
) -> None:
    await chat(client, participant, "first")
    assert fake_stats(settings)["last_roles"] == ["system", "user"]
    await chat(client, participant, "second")
    assert fake_stats(settings)["last_roles"] == ["system", "user", "assistant", "user"]
    assert [t["turn_number"] for t in await turns(client, participant)] == [1, 2]


@pytest.mark.parametrize(
    ("fault", "code", "status", "kept"),
    [
        ("fault=error,status=500", "UPSTREAM_ERROR", "failed", 0),
        ("fault=error,status=429,retry_after=7", "UPSTREAM_RATE_LIMITED", "failed", 0),
        ("fault=cut,fault_at=3", "UPSTREAM_BROKEN", "partial", 3),
        ("fault=malformed,fault_at=4", "UPSTREAM_MALFORMED", "partial", 4),
        ("fault=stall,fault_at=2,stall=5", "UPSTREAM_TIMEOUT", "partial", 2),
        ("fault=stall,fault_at=0,stall=5", "UPSTREAM_TIMEOUT", "failed", 0),
    ],
)
@pytest.mark.parametrize("relay_interval_ms", [0, 100])
async def test_upstream_faults_end_in_an_error_event_and_the_right_status(
    settings: Settings, fault: str, code: str, status: str, kept: int, relay_interval_ms: int,
) -> None:
    async with serving(settings, llm_extra_headers={"X-Fake-LLM": fault},
                       llm_read_timeout=0.5, chat_relay_interval_ms=relay_interval_ms) as app:
        client = app.test_client()
        p = await new_participant(client)
        started = time.monotonic()
        http_status, events = await chat(client, p, "hello")
        elapsed = time.monotonic() - started
        assert http_status == 200
        tokens = [data["delta"] for name, data in events if name == "token"]
        if relay_interval_ms and "cut" in fault:
            # The reset drops what the upstream client had buffered during the relay's wait:
            # the partial answer can be shorter (what it keeps is stored, below).
            assert 1 <= len(tokens) <= kept
        else:
            assert len(tokens) == kept
        name, data = events[-1]
        assert name == "error"
        assert (data["code"], data["status"], data["turn_number"]) == (code, status, 1)
        assert data["message"]
        if "429" in fault:
            assert data["retry_after"] == "7"
        assert elapsed < 3, "a fault must end the turn within the read timeout"
        [turn] = await turns(client, p)
        assert (turn["status"], turn["error_code"]) == (status, code)
        assert turn["ai_message"] == "".join(tokens)


async def test_a_stream_longer_than_quarts_response_timeout_is_not_cut(
    settings: Settings,
) -> None:
    async with serving(settings, llm_extra_headers={"X-Fake-LLM": "tokens=15,gap=0.1"}) as app:
        app.config["RESPONSE_TIMEOUT"] = 0.5
        client = app.test_client()
        p = await new_participant(client)
        status, events = await chat(client, p, "long answer please")
        assert status == 200
        assert events[-1][0] == "done"
        assert sum(1 for name, _ in events if name == "token") == 15


async def test_turns_timeout_caps_a_slow_but_steady_stream(settings: Settings) -> None:
    async with serving(settings, llm_extra_headers={"X-Fake-LLM": "tokens=100,gap=0.05"},
                       llm_turn_timeout=0.6) as app:
        client = app.test_client()
        p = await new_participant(client)
        started = time.monotonic()
        _, events = await chat(client, p, "go on")
        assert time.monotonic() - started < 2
        assert events[-1][1]["code"] == "UPSTREAM_TIMEOUT"
        assert (await turns(client, p))[0]["status"] == "partial"


async def open_stream(app: Quart, p: Participant, message: str) -> Any:
    """Start a chat through the ASGI interface and return the open connection."""
    connection = app.test_client().request(p.url("/chat"), method="POST",
                                           headers=p.headers | {"Content-Type": "application/json"})
    await connection.__aenter__()
    await connection.send(f'{{"message": "{message}"}}'.encode())
    await connection.send_complete()
    return connection


async def test_a_client_that_leaves_cancels_upstream_and_leaves_a_partial_turn(
    settings: Settings,
) -> None:
    async with serving(settings, llm_extra_headers={"X-Fake-LLM": "tokens=500,gap=0.01"}) as app:
        client = app.test_client()
        p = await new_participant(client)
        before = fake_stats(settings)
        connection = await open_stream(app, p, "talk to me")
        received = b""
        while received.count(b"event: token") < 3:
            received += await connection.receive()
        await connection.disconnect()
        await connection.__aexit__(None, None, None)
        for _ in range(50):
            turn = (await turns(client, p))[0]
            if turn["status"] != "streaming":
                break
            await asyncio.sleep(0.05)
        assert (turn["status"], turn["error_code"]) == ("partial", "CLIENT_DISCONNECTED")
        assert turn["ai_message"].startswith(
            "".join(answer_tokens(SEED, "talk to me", 3)))
        await asyncio.sleep(0.2)
        after = fake_stats(settings)
        assert after["disconnected"] == before["disconnected"] + 1
        assert after["active_streams"] == 0
        assert app.extensions["llm"].open_streams == 0


async def test_a_second_chat_while_one_streams_is_429_and_numbers_stay_unique(
    settings: Settings,
) -> None:
    async with serving(settings, llm_extra_headers={"X-Fake-LLM": "tokens=30,gap=0.01"}) as app:
        client = app.test_client()
        p = await new_participant(client)
        connection = await open_stream(app, p, "first")
        await connection.receive()
        status, [(_, body)] = await chat(client, p, "second")
        assert status == 429
        assert body["error"]["code"] == "TURN_IN_PROGRESS"
        rest = b""
        while b"event: done" not in rest:
            rest += await connection.receive()
        await connection.__aexit__(None, None, None)
        status, events = await chat(client, p, "third")
        assert (status, events[-1][1]["turn_number"]) == (200, 2)
        assert [t["user_message"] for t in await turns(client, p)] == ["first", "third"]


async def test_racing_chats_get_one_turn_each_number(settings: Settings) -> None:
    async with serving(settings) as app:
        client = app.test_client()
        p = await new_participant(client)
        results = await asyncio.gather(*(chat(client, p, f"m{i}") for i in range(6)))
        statuses = sorted(status for status, _ in results)
        assert statuses.count(200) >= 1 and set(statuses) <= {200, 429}
        numbers = [t["turn_number"] for t in await turns(client, p)]
        assert numbers == list(range(1, statuses.count(200) + 1))


async def test_streams_beyond_the_cap_get_503(settings: Settings) -> None:
    async with serving(settings, llm_max_streams=1, llm_slot_timeout=0.1,
                       llm_extra_headers={"X-Fake-LLM": "tokens=50,gap=0.01"}) as app:
        client = app.test_client()
        first, second = await new_participant(client), await new_participant(client)
        connection = await open_stream(app, first, "hello")
        await connection.receive()
        status, [(_, body)] = await chat(client, second, "me too")
        assert status == 503
        assert body["error"]["code"] == "LLM_BUSY"
        await connection.disconnect()
        await connection.__aexit__(None, None, None)


def hold_the_loop(seconds: float) -> None:
    """Keep the event loop from running anything for `seconds`, as a core full of work does."""
    time.sleep(seconds)  # in a sync function, called from the test: the loop waits


async def test_a_lagging_worker_refuses_a_new_chat_at_once(settings: Settings) -> None:
    async with serving(settings, chat_admit_lag_ms=15) as app:
        client = app.test_client()
        p = await new_participant(client)
        upstream_before = fake_stats(settings)["requests"]
        for _ in range(4):  # four ticks of the lag watcher in a row, each 30-40 ms late
            hold_the_loop(0.04)
            await asyncio.sleep(0.001)  # the watcher's late tick runs; its next falls in a hold
        started = time.perf_counter()
        response = await client.post(p.url("/chat"), headers=p.headers,
                                     json={"message": "hello?"})
        refused_in = time.perf_counter() - started
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        body = await response.get_json()
        assert body["error"]["code"] == "LLM_BUSY" and "Retry in 2 seconds" in body["error"][
            "message"]
        assert refused_in < 0.05
        # Refused before any work: no turn row, nothing asked upstream.
        assert await turns(client, p) == []
        assert fake_stats(settings)["requests"] == upstream_before
        assert app.extensions["llm"].gauge.refused == 1
        # No chat was open when the lag passed its bound: the ceiling fell to its floor.
        assert REGISTRY.get_sample_value("chat_admission_ceiling") == FLOOR
        await asyncio.sleep(0.1)  # the loop caught up: the next chat is served
        status, events = await chat(client, p, "hello again")
        assert (status, events[-1][0]) == (200, "done")


async def test_one_long_pause_refuses_nobody(settings: Settings) -> None:
    # A full garbage collection stops the loop for tens of milliseconds once; only a lag that
    # lasts several ticks is the core being full.
    async with serving(settings, chat_admit_lag_ms=15) as app:
        client = app.test_client()
        p = await new_participant(client)
        await asyncio.sleep(0.06)
        hold_the_loop(0.1)
        await asyncio.sleep(0.012)
        status, _ = await chat(client, p, "still there?")
        assert status == 200


async def test_an_unreachable_upstream_fails_the_turn(settings: Settings) -> None:
    async with serving(settings, llm_base_url="http://127.0.0.1:9/v1") as app:
        client = app.test_client()
        p = await new_participant(client)
        _, events = await chat(client, p, "anyone?")
        assert events[-1][1]["code"] == "UPSTREAM_UNREACHABLE"
        assert (await turns(client, p))[0]["status"] == "failed"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"message": ""}, "message"), ({"message": "   \n"}, "message"),
     ({"message": "x" * 4001}, "message"), ({}, "message"), ({"message": 5}, "message"),
     ({"message": "hi", "extra": 1}, "extra")],
)
async def test_invalid_chat_messages_are_422(
    client: Client, participant: Participant, body: dict[str, Any], field: str,
) -> None:
    response = await client.post(participant.url("/chat"), headers=participant.headers,
                                 json=body)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["details"][0]["field"] == field
    assert await turns(client, participant) == []


async def test_save_message(client: Client, participant: Participant) -> None:
    response = await client.post(participant.url("/messages"), headers=participant.headers,
                                 json={"role": "assistant", "content": "How are you today?",
                                       "metadata": {"source": "greeting"}})
    assert response.status_code == 201
    body = await response.get_json()
    assert body["role"] == "assistant" and body["message_id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"role": "robot", "content": "x"}, "role"), ({"role": "user", "content": ""}, "content"),
     ({"role": "user", "content": "y" * 4001}, "content"), ({"content": "x"}, "role"),
     ({"role": "user", "content": "x", "metadata": "no"}, "metadata")],
)
async def test_invalid_messages_are_422(
    client: Client, participant: Participant, body: dict[str, Any], field: str,
) -> None:
    response = await client.post(participant.url("/messages"), headers=participant.headers,
                                 json=body)
    assert response.status_code == 422
    assert (await response.get_json())["error"]["details"][0]["field"] == field


@pytest.mark.parametrize(("method", "path"), [("POST", "/chat"), ("GET", "/chat/turns"),
                                              ("POST", "/messages")])
async def test_chat_routes_need_the_sessions_token(
    client: Client, participant: Participant, method: str, path: str,
) -> None:
    other = await new_participant(client)
    body = {"message": "hi"} if path == "/chat" else {"role": "user", "content": "hi"}
    none = await client.open(participant.url(path), method=method, json=body)
    assert none.status_code == 401
    wrong = await client.open(participant.url(path), method=method, headers=other.headers,
                              json=body)
    assert wrong.status_code == 404
    assert await turns(client, participant) == []


async def test_turns_per_minute_are_limited_per_session(settings: Settings) -> None:
    async with serving(settings, chat_turns_per_minute=3) as app:
        client = app.test_client()
        p, other = await new_participant(client), await new_participant(client)
        for n in range(3):
            assert (await chat(client, p, f"m{n}"))[0] == 200
        response = await client.post(p.url("/chat"), headers=p.headers, json={"message": "m3"})
        assert response.status_code == 429
        assert (await response.get_json())["error"]["code"] == "CHAT_RATE_LIMITED"
        assert 55 <= int(response.headers["Retry-After"]) <= 60
        assert (await chat(client, other, "mine"))[0] == 200  # per session, not global
        assert [t["user_message"] for t in await turns(client, p)] == ["m0", "m1", "m2"]
        # Once the oldest turn leaves the minute, the session may chat again.
        async with app.app_context():
            async with app.extensions["db"].connection() as conn:
                await conn.execute("UPDATE chat_turns SET created_at = created_at - "
                                   "interval '61 seconds' WHERE user_message = 'm0'")
        assert (await chat(client, p, "m3"))[0] == 200
        assert app.extensions["llm"].open_streams == 0  # refused turns gave their slot back


async def test_a_relay_interval_takes_what_came_meanwhile_in_one_read(
    settings: Settings,
) -> None:
    # CHAT_RELAY_INTERVAL_MS: 20 tokens 10 ms apart, relayed at most every 100 ms: a few
    # writes, not twenty, and (read together after each pause, not one by one) about as long
    # as the upstream takes, not two seconds. Every token has its own event and is stored.
    async with serving(settings, chat_relay_interval_ms=100,
                       llm_extra_headers={"X-Fake-LLM": "tokens=20,gap=0.01"}) as app:
        client = app.test_client()
        p = await new_participant(client)
        started = time.perf_counter()
        writes: list[bytes] = []
        async with client.request(p.url("/chat"), method="POST",
                                  headers={**p.headers, "Content-Type": "application/json"},
                                  ) as connection:
            await connection.send(b'{"message": "batch it"}')
            await connection.send_complete()
            while chunk := await connection.receive():
                writes.append(chunk)
        took = time.perf_counter() - started
        events = parse_events(b"".join(writes).decode())
        tokens = [data["delta"] for name, data in events if name == "token"]
        assert events[-1][0] == "done" and len(tokens) == 20
        assert 1 < sum(b"event: token" in chunk for chunk in writes) < 10
        assert took < 1.2
        [turn] = await turns(client, p)
        assert turn["ai_message"] == "".join(tokens) and turn["status"] == "complete"
