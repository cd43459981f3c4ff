"""What the code expects of other libraries' private internals, pinned in one place.

These libraries are held to one minor range in pyproject.toml; an upgrade that changes what
the code relies on fails here first, and the message names what changed and where it is used.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest
from quart import Quart
from quart.asgi import ASGIHTTPConnection
from quart.wrappers import Body, Request
from quart.wrappers.response import IterableBody
from quart_schema import OpenAPIProvider, QuartSchema
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.datastructures import Headers
from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import UUIDConverter
from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
    Preamble,
)


def parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_quart_connection_hooks_backpressure_overrides() -> None:
    """http/backpressure.py overrides these three methods of Quart's ASGI connection."""
    expected = {"_create_request_from_scope": ["self", "send"],
                "_send_response": ["self", "send", "response"],
                "handle_messages": ["self", "request", "receive"]}
    for name, names in expected.items():
        method = getattr(ASGIHTTPConnection, name, None)
        assert method is not None, f"quart.asgi.ASGIHTTPConnection.{name} is gone"
        assert parameters(method) == names, f"ASGIHTTPConnection.{name} now takes " \
            f"{parameters(method)} (backpressure.FlowControlledConnection)"
    assert Quart.asgi_http_class is ASGIHTTPConnection, "Quart.asgi_http_class changed"


async def test_quart_body_keeps_its_buffer_error_and_completion_as_backpressure_reads() -> None:
    """BoundedBody reads Body._data (a bytearray), sets _must_raise and waits on _complete."""
    body = Body(None, None)
    body.append(b"abc")
    assert isinstance(body._data, bytearray) and bytes(body._data) == b"abc", "Body._data"
    assert body._must_raise is None, "Body._must_raise"
    assert isinstance(body._complete, asyncio.Event), "Body._complete"
    body.set_complete()
    assert body._complete.is_set()
    assert await body == b"abc"  # awaiting the body (get_data) goes through __await__
    assert Request.body_class is Body, "Request.body_class (jsonio.APIRequest replaces it)"


def test_quart_request_caches_json_by_silent_flag() -> None:
    """jsonio.APIRequest.get_json reads and fills Request._cached_json[silent]."""
    assert parameters(Request.get_json) == ["self", "force", "silent", "cache"]
    request = Request("POST", "http", "/", b"", Headers(), "", "1.1",
                      {"type": "http"},  # type: ignore[typeddict-item]
                      send_push_promise=lambda *_: None)  # type: ignore[arg-type]
    assert request._cached_json == {False: Ellipsis, True: Ellipsis}, "Request._cached_json"


async def test_quart_closes_an_iterable_body_when_its_response_ends() -> None:
    """services/chat_turns.py: the server closes a started turn stream it stops reading."""
    closed = []

    async def events() -> Any:
        try:
            yield b"one"
            yield b"two"
        finally:
            closed.append(True)

    stream = events()
    async with IterableBody(stream) as body:
        assert await anext(aiter(body)) == b"one"
    assert closed == [True], "IterableBody.__aexit__ no longer closes the iterable"


def test_quart_schema_conversion_and_provider_hooks() -> None:
    """jsonio.convert_models_only replaces the app's make_response that QuartSchema wraps;
    http/openapi.py subclasses OpenAPIProvider and reads the request-schema attribute."""
    app = Quart(__name__)
    QuartSchema(app)
    assert "make_response" in vars(app), "QuartSchema no longer wraps app.make_response " \
        "(jsonio.convert_models_only replaces that wrapper)"
    for name in ("build_paths", "build_path_parameter", "build_response_object"):
        assert hasattr(OpenAPIProvider, name), f"OpenAPIProvider.{name} is gone (openapi.py)"
    assert parameters(OpenAPIProvider.build_paths) == ["self", "rule"]
    assert parameters(OpenAPIProvider.build_path_parameter) == ["self", "name", "converter"]
    assert isinstance(QUART_SCHEMA_REQUEST_ATTRIBUTE, str)
    provider = OpenAPIProvider(app, app.extensions["QUART_SCHEMA"])
    assert provider._app.view_functions is app.view_functions, \
        "OpenAPIProvider._app (openapi.ApiDocs reads the app's view functions through it)"


def test_werkzeug_rules_keep_their_converters() -> None:
    """openapi.implied_errors reads Rule._converters to find UUID path parameters."""
    rule = Rule("/api/sessions/<uuid:sid>")
    Map([rule])
    assert isinstance(rule._converters["sid"], UUIDConverter), "Rule._converters"


def test_werkzeug_sansio_multipart_events() -> None:
    """domain/frame_stream.py drives werkzeug's sans-I/O multipart decoder."""
    body = (b"--b\r\nContent-Disposition: form-data; name=\"capture_type\"\r\n\r\nface\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"frames\"; filename=\"a.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xffdata\r\n--b--\r\n")
    decoder = MultipartDecoder(b"b", max_parts=3)
    decoder.receive_data(body)
    decoder.receive_data(None)
    events = []
    while not isinstance(event := decoder.next_event(), NeedData | Epilogue):
        if not isinstance(event, Preamble):
            events.append(event)
    assert [type(e) for e in events] == [Field, Data, File, Data]
    assert isinstance(events[2], File) and events[2].filename == "a.jpg"
    assert isinstance(events[3], Data) and events[3].data == b"\xff\xd8\xffdata"
    assert events[3].more_data is False
    assert "max_parts" in parameters(MultipartDecoder.__init__)


async def test_an_httpx_response_lets_go_of_a_replaced_stream() -> None:
    """llm_client.stream_chat swaps a spent response's stream for an empty one, so the
    response and its stream stop pointing at each other (tests/test_garbage.py)."""

    class Chunks(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield b"data: [DONE]\n\n"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Chunks())

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        response = await client.send(client.build_request("GET", "http://llm/"), stream=True)
        assert [chunk async for chunk in response.aiter_raw()] == [b"data: [DONE]\n\n"]
        await response.aclose()
        spent = response.stream
        assert getattr(spent, "_response", None) is response, \
            "httpx's response stream no longer points back at its response: " \
            "llm_client's CLOSED_STREAM swap may be unneeded"
        response.stream = httpx.ByteStream(b"")
        assert response.stream is not spent


def test_httpx_aiohttp_transport_takes_httpx_limits() -> None:
    from httpx_aiohttp import AiohttpTransport

    assert "limits" in parameters(AiohttpTransport.__init__), "AiohttpTransport(limits=...)"


def test_hypercorn_workers_take_config_sockets_and_a_shutdown_event() -> None:
    """serving/workers.py runs Hypercorn's worker functions in its own processes."""
    from hypercorn.asyncio.run import asyncio_worker, uvloop_worker

    for worker in (asyncio_worker, uvloop_worker):
        assert parameters(worker)[:3] == ["config", "sockets", "shutdown_event"], worker


@pytest.mark.parametrize("module", ["quart", "quart_schema", "werkzeug", "httpx",
                                    "httpx_aiohttp", "hypercorn"])
def test_the_pinned_libraries_are_within_their_declared_range(module: str) -> None:
    """The installed versions are those pyproject.toml allows (a stray upgrade shows here)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    declared = {Requirement(r).name.lower(): Requirement(r)
                for r in metadata.requires("assessment-async") or [] if "extra" not in r}
    name = module.replace("_", "-")
    requirement = declared[name]
    assert requirement.specifier.contains(metadata.version(name)), (
        f"{name} {metadata.version(name)} is outside {requirement.specifier}")
    assert any(spec.operator == "<" for spec in requirement.specifier), \
        f"{name} relies on internals and needs an upper bound"
