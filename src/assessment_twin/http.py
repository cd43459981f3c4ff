"""Flask-side request handling with the contract's errors: JSON bodies, validation, tokens,
the JSON encoder, and the error handlers."""

from __future__ import annotations

import logging
from typing import Any, TypeVar, cast

import orjson
from flask import Flask, Request, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from werkzeug.exceptions import HTTPException

from assessment_core.errors import (
    APIError,
    database_unavailable_error,
    http_error,
    internal_error,
    malformed_json,
    not_json,
    too_large,
    validation_error,
)
from assessment_core.tokens import check_owner, token_hash_from_header
from assessment_twin.body_timeouts import TIMED_OUT
from assessment_twin.db import database_unavailable
from assessment_twin.services.sessions import SessionService

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class OrjsonProvider(DefaultJSONProvider):
    """The same bytes as the ASGI app: RFC 3339 datetimes, UUIDs as strings."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=to_jsonable_python,
                            option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


class APIRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise malformed_json(e) if e is not None else not_json()


def json_body(model: type[M]) -> M:
    """The request's JSON body validated as `model` (400, 413, 415, 422 as the contract says)."""
    if not request.is_json:
        raise not_json()
    limit = current_app.config["JSON_MAX_BYTES"]
    if (request.content_length or 0) > limit:
        raise too_large(limit)
    # Read at most one byte past the cap, so a chunked body (no Content-Length) is refused
    # with 413 at the cap instead of being buffered whole.
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise too_large(limit)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise malformed_json(error) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(error) from None


def bearer_hash() -> bytes:
    return token_hash_from_header(request.headers.get("Authorization"))


def require_session(session_id: Any, token_hash: bytes) -> None:
    check_owner(SessionService.session_for_token(token_hash), session_id)


# An error answered before the body was read leaves it in the socket; under gthread, Gunicorn
# then sometimes drops the kept-alive connection and the client's next request fails. Bodies
# up to this size are read and discarded first.
DRAIN_LIMIT = 1024 * 1024


def error_response(error: APIError) -> Response:
    timed_out = request.environ.get(TIMED_OUT)  # the rest of that body is not coming
    if 0 < (request.content_length or 0) <= DRAIN_LIMIT and not timed_out:
        while request.stream.read(65536):
            pass
    response = cast(Response, current_app.json.response(error.body()))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(APIError, error_response)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        return error_response(http_error(error.code or 500, error.description, request.path,
                                         request.url_rule is None,
                                         current_app.config["MAX_CONTENT_LENGTH"]))

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if database_unavailable(error):
            log.warning("database unavailable: %s", type(error).__name__)
            return error_response(database_unavailable_error())
        log.exception("unhandled error")
        return error_response(internal_error())
