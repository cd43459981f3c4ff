"""The upstream LLM stream over requests (sync): cooperative under gevent once patched."""

from __future__ import annotations

import threading
import time
from collections.abc import Generator

import orjson
import requests
from requests.adapters import HTTPAdapter

from assessment_core.admission import LagGauge
from assessment_core.chat import (
    ChunkReader,
    StreamResult,
    UpstreamError,
    parse_chunk,
    upstream_status_error,
)
from assessment_core.settings import Settings, chat_completions_url


class SyncLLMClient:
    def __init__(self, settings: Settings, base_url: str, gauge: LagGauge | None = None) -> None:
        self.settings = settings
        self.gauge = gauge or LagGauge(0)  # what admits a chat (assessment_twin/admission.py)
        self.url = chat_completions_url(base_url)
        self.http = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.llm_max_streams)
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}",
                        **settings.llm_extra_headers}
        self._slots = threading.BoundedSemaphore(settings.llm_max_streams)
        self._counting = threading.Lock()  # gthread's threads change the gauge's count at once

    def acquire_slot(self) -> bool:
        """A stream slot within llm_slot_timeout (False: every slot stayed busy), counted as
        an open chat by the gauge."""
        if not self._slots.acquire(timeout=self.settings.llm_slot_timeout):
            return False
        with self._counting:
            self.gauge.chat_started()
        return True

    def release_slot(self) -> None:
        with self._counting:
            self.gauge.chat_ended()
        self._slots.release()

    def _open(self, messages: list[dict[str, str]]) -> requests.Response:
        """The upstream's streamed answer, its status checked (UpstreamError otherwise)."""
        settings = self.settings
        payload = {"model": settings.llm_model, "messages": messages, "stream": True,
                   "stream_options": {"include_usage": True}}
        try:
            response = self.http.post(
                self.url, data=orjson.dumps(payload), stream=True,
                headers=self.headers | {"Content-Type": "application/json"},
                timeout=(settings.llm_connect_timeout, settings.llm_read_timeout))
        except requests.RequestException as error:
            raise transport_error(error) from None
        if response.status_code != 200:
            response.close()
            raise upstream_status_error(response.status_code,
                                        response.headers.get("Retry-After"))
        return response

    def stream_chat(
        self, messages: list[dict[str, str]], result: StreamResult
    ) -> Generator[str, None, None]:
        """Yield the answer's text deltas; UpstreamError on any failure. Closing the generator
        early closes the upstream response and its connection."""
        deadline = time.monotonic() + self.settings.llm_turn_timeout
        with self._open(messages) as response:
            try:
                # chunk_size=None: lines as the chunks arrive, not once 512 bytes are in.
                for raw in response.iter_lines(chunk_size=None):  # type: ignore[call-overload]
                    if time.monotonic() > deadline:
                        raise UpstreamError("UPSTREAM_TIMEOUT", "The language model stopped "
                                            "sending in the middle of its answer.")
                    line = raw.decode()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    delta = parse_chunk(data, result)
                    if delta:
                        yield delta
            except requests.RequestException as error:
                raise transport_error(error) from None
        raise UpstreamError("UPSTREAM_BROKEN", "The language model's stream ended before it "
                            "finished.")


    def stream_batches(
        self, messages: list[dict[str, str]], result: StreamResult
    ) -> Generator[list[str], None, None]:
        """The answer's deltas as lists, one per read from the upstream, as the ASGI app's
        client yields them (TWIN_BATCH_WRITES): the relay writes a read's tokens at once."""
        settings = self.settings
        deadline = time.monotonic() + settings.llm_turn_timeout
        with self._open(messages) as response:
            reader = ChunkReader(result)
            try:
                # chunk_size=None: each read as it arrives, whatever its size.
                for chunk in response.iter_content(chunk_size=None):
                    if time.monotonic() > deadline:
                        raise UpstreamError("UPSTREAM_TIMEOUT", "The language model stopped "
                                            "sending in the middle of its answer.")
                    deltas, finished, failure = reader.feed(chunk)
                    if deltas:
                        yield deltas  # what came before a bad chunk is relayed and kept
                    if failure is not None:
                        raise failure
                    if finished:
                        return
            except requests.RequestException as error:
                raise transport_error(error) from None
        raise UpstreamError("UPSTREAM_BROKEN", "The language model's stream ended before it "
                            "finished.")


def transport_error(error: requests.RequestException) -> UpstreamError:
    if isinstance(error, requests.ConnectTimeout | requests.ReadTimeout):
        return UpstreamError("UPSTREAM_TIMEOUT", "The language model did not answer in time.")
    if isinstance(error, requests.ConnectionError) and not isinstance(
            error, requests.exceptions.ChunkedEncodingError):
        text = str(error)
        if "Read timed out" in text:
            return UpstreamError("UPSTREAM_TIMEOUT", "The language model stopped sending in "
                                 "the middle of its answer.")
        if "Connection broken" not in text:
            return UpstreamError("UPSTREAM_UNREACHABLE", "The language model cannot be "
                                 "reached.")
    return UpstreamError("UPSTREAM_BROKEN", "The connection to the language model broke.")
