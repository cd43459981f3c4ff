"""The Quart handlers that give every failure the contract's JSON shape."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from quart import Quart, Response, current_app, jsonify, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from assessment_async.infra.db import database_unavailable
from assessment_core.errors import (
    RETRY_AFTER_SECONDS,
    APIError,
    database_unavailable_error,
    http_error,
    internal_error,
    validation_error,
)

__all__ = ["APIError", "RETRY_AFTER_SECONDS", "error_response", "register_error_handlers"]

log = logging.getLogger(__name__)


def error_response(error: APIError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def register_error_handlers(app: Quart) -> None:
    app.register_error_handler(APIError, error_response)

    @app.errorhandler(RequestSchemaValidationError)
    async def _invalid_body(error: RequestSchemaValidationError) -> Response:
        cause = error.validation_error
        if isinstance(cause, ValidationError):
            return error_response(validation_error(cause))
        return error_response(APIError(422, "VALIDATION_ERROR", "The body does not match the "
                                       f"expected shape: {cause}"))

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        return error_response(http_error(error.code or 500, error.description, request.path,
                                         request.url_rule is None,
                                         current_app.config["MAX_CONTENT_LENGTH"]))

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Response:
        if database_unavailable(error):
            log.warning("database unavailable: %s", type(error).__name__)
            return error_response(database_unavailable_error())
        log.exception("unhandled error")
        return error_response(internal_error())

    # The served spec documents what these handlers answer, on every route.
