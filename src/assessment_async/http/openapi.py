"""The served OpenAPI document: quart-schema's, plus what its decorators cannot say.

quart-schema documents JSON bodies only, and puts response headers inside `content`. This
provider adds the contract's error answers to every route from the route itself (auth errors
on session routes, body errors where a body is read, 503 while the database is down), bodies
that are not JSON (an image, a FHIR resource, an event stream), response headers, required
request bodies, and the format of path parameters. tests/fuzz holds the app to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter
from quart_schema import OpenAPIProvider
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE
from werkzeug.routing import Rule
from werkzeug.routing.converters import BaseConverter, UUIDConverter

from assessment_core.models import ChatDone, ChatFailure, ChatToken, ErrorOut

T = TypeVar("T", bound=Callable[..., Any])
Schema = dict[str, Any]

_BODIES = "_api_bodies"
_HEADERS = "_api_response_headers"
_ERRORS = "_api_errors"
_PARAMETERS = "_api_path_parameters"

RETRY_AFTER: Schema = {"description": "Seconds to wait before trying again.", "required": True,
                       "schema": {"type": "integer", "minimum": 0}}
CLINICAL_ALERT: Schema = {
    "description": "Set when item 9 (self-harm) was answered above 0: a clinician must review.",
    "schema": {"type": "string", "enum": ["item9-positive"]},
}

# What each error status means anywhere in this API; every error has the ErrorOut body.
ERRORS: dict[int, tuple[str, dict[str, Schema]]] = {
    400: ("MALFORMED_JSON: the body is not valid JSON; MALFORMED_MULTIPART: an upload is "
          "truncated, malformed or has no boundary.", {}),
    401: ("AUTH_REQUIRED: no bearer token; INVALID_TOKEN: a malformed token, or one that opens "
          "no session.",
          {"WWW-Authenticate": {"required": True,
                                "schema": {"type": "string", "pattern": "^Bearer "}}}),
    404: ("SESSION_NOT_FOUND: another session's token or an unknown session (the same answer, "
          "so ids cannot be probed); NOT_FOUND: an id in the path that is not a UUID; "
          "CAPTURE_NOT_FOUND: no such capture in this session.", {}),
    408: ("BODY_TIMEOUT / REQUEST_TIMEOUT: the body arrived too slowly.", {}),
    409: ("ALREADY_SUBMITTED: the questionnaire was submitted; its answers can no longer "
          "change.", {}),
    413: ("PAYLOAD_TOO_LARGE: the body, a frame, or the number of frames is over its cap.", {}),
    415: ("UNSUPPORTED_MEDIA_TYPE: a body that is not application/json (or multipart/form-data "
          "for uploads), or a frame whose bytes are not JPEG or PNG.", {}),
    422: ("VALIDATION_ERROR: a value out of range, an unknown item or field (named in "
          "`details`); INCOMPLETE_QUESTIONNAIRE: items missing at submit (listed).", {}),
    429: ("TURN_IN_PROGRESS: the previous answer still streams; CHAT_RATE_LIMITED: too many "
          "turns this minute.", {"Retry-After": RETRY_AFTER}),
    503: ("DATABASE_UNAVAILABLE: the database is unreachable; LLM_BUSY: every upstream stream "
          "slot stayed busy.", {"Retry-After": RETRY_AFTER}),
}


def document_body(status: int, media_type: str, schema: Schema | type[BaseModel],
                  description: str) -> Callable[[T], T]:
    """Document a response body quart-schema cannot (not application/json)."""

    def decorator(func: T) -> T:
        bodies = getattr(func, _BODIES, {})
        bodies.setdefault(status, (description, {}))[1][media_type] = schema
        setattr(func, _BODIES, bodies)
        return func

    return decorator


def document_response_headers(status: int, headers: dict[str, Schema]) -> Callable[[T], T]:
    """Document headers of the `status` response (OpenAPI Header Objects by name)."""

    def decorator(func: T) -> T:
        documented = getattr(func, _HEADERS, {})
        documented.setdefault(status, {}).update(headers)
        setattr(func, _HEADERS, documented)
        return func

    return decorator


def document_errors(*statuses: int) -> Callable[[T], T]:
    """Document errors this route answers beyond those every route of its kind does."""

    def decorator(func: T) -> T:
        setattr(func, _ERRORS, getattr(func, _ERRORS, set()) | set(statuses))
        return func

    return decorator


def document_path_parameter(name: str, schema: Schema, description: str) -> Callable[[T], T]:
    """Document what a path parameter the URL rule takes as any string must be."""

    def decorator(func: T) -> T:
        parameters = getattr(func, _PARAMETERS, {})
        parameters[name] = {"schema": schema, "description": description}
        setattr(func, _PARAMETERS, parameters)
        return func

    return decorator


def sse_event(event: str, data: type[BaseModel]) -> Schema:
    """One Server-Sent Event whose `data` line is `data` as JSON."""
    return {"type": "object", "required": ["event", "data"],
            "properties": {"event": {"const": event},
                           "data": {"type": "string", "contentMediaType": "application/json",
                                    "contentSchema": TypeAdapter(data).json_schema()}}}


# Before OpenAPI 3.2's itemSchema, the schema of an event stream describes one event.
document_chat_stream = document_body(
    200, "text/event-stream",
    {"oneOf": [sse_event("token", ChatToken), sse_event("done", ChatDone),
               sse_event("error", ChatFailure)]},
    "`token` events with the answer's pieces, then `done` (the turn was saved) or `error`.",
)


def implied_errors(rule: Rule, func: Callable[..., Any]) -> set[int]:
    """The errors a route answers by its kind: what it reads and where it lives."""
    statuses = {503}  # every route here uses the database
    converters: dict[str, BaseConverter] = rule._converters
    if "sid" in converters:
        statuses |= {401, 404}
    if any(isinstance(converter, UUIDConverter) for converter in converters.values()):
        statuses.add(404)
    if getattr(func, QUART_SCHEMA_REQUEST_ATTRIBUTE, None) is not None:
        statuses |= {400, 408, 413, 415, 422}
    return statuses


class ApiDocs(OpenAPIProvider):
    """quart-schema's document with every route's errors, bodies and headers."""

    def build_path_parameter(self, name: str, converter: BaseConverter) -> dict[str, Any]:
        parameter = super().build_path_parameter(name, converter)
        if isinstance(converter, UUIDConverter):
            parameter["schema"] = {"type": "string", "format": "uuid"}
        return parameter

    def build_paths(self, rule: Rule) -> tuple[dict, dict]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        error, error_components = self.build_response_object(ErrorOut, None)
        errors = implied_errors(rule, func) | getattr(func, _ERRORS, set())
        if errors:
            components.update(error_components)
        for operations in paths.values():
            for operation in operations.values():
                responses = dict(operation["responses"])
                for status in sorted(errors):
                    description, headers = ERRORS[status]
                    responses[status] = {**error, "description": description}
                    if headers:
                        responses[status]["headers"] = headers
                for status, (text, media) in getattr(func, _BODIES, {}).items():
                    content = {}
                    for media_type, schema in media.items():
                        if isinstance(schema, type):
                            schema, definitions = self.body_schema(schema)
                            components.update(definitions)
                        content[media_type] = {"schema": schema}
                    responses[status] = {"description": text, "content": content}
                for status, headers in getattr(func, _HEADERS, {}).items():
                    responses[status] = {**responses[status], "headers": headers}
                operation["responses"] = responses
                if "requestBody" in operation:  # every route that reads a body needs one
                    operation["requestBody"] = {**operation["requestBody"], "required": True}
                overrides = getattr(func, _PARAMETERS, {})
                operation["parameters"] = [
                    {**parameter, **overrides.get(parameter["name"], {})}
                    for parameter in operation["parameters"]
                ]
        return paths, components

    def body_schema(self, model: type[BaseModel]) -> tuple[Schema, dict[str, Any]]:
        response, definitions = self.build_response_object(model, None)
        return response["content"]["application/json"]["schema"], definitions
