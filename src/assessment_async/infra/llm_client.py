"""The one upstream LLM client of the app: an OpenAI-style chat-completions stream over httpx.

Made once while serving and shared by every request (never a client per request). It caps
concurrent upstream streams, and bounds every wait: connect, each read (the silence between
chunks) and the whole turn. Every failure becomes an UpstreamError with a stable code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import httpx
import orjson

from assessment_async.infra.metrics import CHATS_REFUSED, LLM_STREAMS
from assessment_core.admission import LagGauge
from assessment_core.chat import (
    ChunkReader,
    StreamResult,
    UpstreamError,
    upstream_status_error,
)
from assessment_core.settings import Settings, chat_completions_url

CLOSED_STREAM = httpx.ByteStream(b"")


class SlotTimeout(Exception):
    """Every upstream stream slot stayed busy for llm_slot_timeout."""


class WorkerBusy(Exception):
    """The worker lags past CHAT_ADMIT_LAG_MS: no new chat until it catches up."""


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """httpx with the transport the settings name, sized for llm_max_streams connections."""
    timeout = httpx.Timeout(connect=settings.llm_connect_timeout,
                            read=settings.llm_read_timeout, write=10.0,
                            pool=settings.llm_slot_timeout)
    limits = httpx.Limits(max_connections=settings.llm_max_streams,
                          max_keepalive_connections=min(settings.llm_max_streams, 256))
    if settings.llm_transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        return httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=timeout)
    return httpx.AsyncClient(limits=limits, timeout=timeout)


class LLMClient:
    def __init__(self, settings: Settings, base_url: str, gauge: LagGauge) -> None:
        self.settings = settings
        self.gauge = gauge
        self.url = chat_completions_url(base_url)
        self.http = make_http_client(settings)
        self.headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}",
                        **settings.llm_extra_headers}
        self._slots = asyncio.Semaphore(settings.llm_max_streams)

    @property
    def open_streams(self) -> int:
        return self.gauge.open

    async def acquire_slot(self) -> None:
        """Wait for a free stream slot; WorkerBusy at once while the worker's gauge refuses
        a chat (assessment_core/admission.py), SlotTimeout after llm_slot_timeout."""
        if not self.gauge.admits_chat():
            CHATS_REFUSED.inc()
            raise WorkerBusy
        try:
            async with asyncio.timeout(self.settings.llm_slot_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise SlotTimeout from None
        self.gauge.chat_started()
        LLM_STREAMS.inc()

    def release_slot(self) -> None:
        self.gauge.chat_ended()
        LLM_STREAMS.dec()
        self._slots.release()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def stream_chat(
        self, messages: list[dict[str, str]], result: StreamResult
    ) -> AsyncGenerator[list[str], None]:
        """Yield the answer's text deltas as they arrive, in lists: the deltas of every chunk
        that came in one read (one under light load, several when the loop is busy), so the
        relay writes them to its client at once. Raise UpstreamError on any failure.

        Leaving the iteration early (the client went away) closes the upstream response, and
        with it the upstream connection, so the upstream stops generating.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.llm_turn_timeout
        read_timeout = self.settings.llm_read_timeout

        def next_deadline() -> float:
            return min(deadline, loop.time() + read_timeout)

        payload = {"model": self.settings.llm_model, "messages": messages, "stream": True,
                   "stream_options": {"include_usage": True}}
        request = self.http.build_request("POST", self.url, headers=self.headers,
                                          content=orjson.dumps(payload))
        try:
            async with asyncio.timeout_at(next_deadline()):
                response = await self.http.send(request, stream=True)
        except TimeoutError:
            raise UpstreamError("UPSTREAM_TIMEOUT", "The language model did not answer in "
                                "time.") from None
        except httpx.HTTPError as error:
            raise transport_error(error) from None
        try:
            if response.status_code != 200:
                raise await status_error(response)
            # Raw reads, split into lines here: one timeout and one pass per read, where
            # httpx's aiter_lines cost a decode, a timeout and an await per line.
            reads = response.aiter_raw()
            reader = ChunkReader(result)
            while True:
                try:
                    async with asyncio.timeout_at(next_deadline()):
                        chunk = await anext(reads)
                except StopAsyncIteration:
                    raise UpstreamError("UPSTREAM_BROKEN", "The language model's stream "
                                        "ended before it finished.") from None
                except TimeoutError:
                    raise UpstreamError("UPSTREAM_TIMEOUT", "The language model stopped "
                                        "sending in the middle of its answer.") from None
                except httpx.HTTPError as error:
                    raise transport_error(error, mid_stream=True) from None
                deltas, finished, failure = reader.feed(chunk)
                if deltas:
                    yield deltas  # what came before a bad chunk is relayed and kept
                if failure is not None:
                    raise failure
                if finished:
                    return
        finally:
            try:
                await response.aclose()
            finally:
                # httpx's response and its stream point at each other (httpx 0.28's
                # BoundAsyncStream keeps `_response` to set `elapsed` on close); left so,
                # every turn's upstream objects wait for a full garbage collection
                # (tests/test_garbage.py checks it after an httpx upgrade). The stream is
                # spent: nothing reads it again.
                response.stream = CLOSED_STREAM


async def status_error(response: httpx.Response) -> UpstreamError:
    return upstream_status_error(response.status_code, response.headers.get("Retry-After"))


def transport_error(error: httpx.HTTPError, mid_stream: bool = False) -> UpstreamError:
    if isinstance(error, httpx.ConnectError) or refused(error):
        return UpstreamError("UPSTREAM_UNREACHABLE", "The language model cannot be reached.")
    if isinstance(error, httpx.TimeoutException):
        if mid_stream:
            return UpstreamError("UPSTREAM_TIMEOUT", "The language model stopped sending in the "
                                 "middle of its answer.")
        return UpstreamError("UPSTREAM_TIMEOUT", "The language model did not answer in time.")
    return UpstreamError("UPSTREAM_BROKEN", "The connection to the language model broke.")


def refused(error: BaseException) -> bool:
    """A refused or unroutable connection, whatever the transport calls it (httpx-aiohttp
    reports a refused connection as ConnectTimeout)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and not isinstance(seen, TimeoutError) and seen.errno:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
