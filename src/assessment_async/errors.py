"""One error type and the handlers that give every failure the contract's JSON shape."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, current_app, jsonify, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from assessment_async.db import database_unavailable

log = logging.getLogger(__name__)

# How long a client should wait before retrying while the database is unreachable.
RETRY_AFTER_SECONDS = 2

HTTP_CODES = {
    400: ("BAD_REQUEST", "The request could not be understood."),
    401: ("UNAUTHORIZED", "Authentication is required."),
    404: ("NOT_FOUND", "There is nothing at this path."),
    405: ("METHOD_NOT_ALLOWED", "This path does not accept that method."),
    408: ("REQUEST_TIMEOUT", "The request body did not arrive in time."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is larger than this server accepts."),
    415: ("UNSUPPORTED_MEDIA_TYPE", "The request body has a media type this path does not take."),
}


class APIError(Exception):
    """A failure to report to the client with a status, a stable code and a readable message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}


def error_response(error: APIError) -> Response:
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    response = jsonify(body)
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as [{field, message}]; field is a dotted path like responses.0.answer."""
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or None, "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]


def register_error_handlers(app: Quart) -> None:
    app.register_error_handler(APIError, error_response)

    @app.errorhandler(RequestSchemaValidationError)
    async def _invalid_body(error: RequestSchemaValidationError) -> Response:
        cause = error.validation_error
        if isinstance(cause, ValidationError):
            details = validation_details(cause)
            fields = ", ".join(sorted({d["field"] for d in details if d["field"]}))
            message = f"Invalid value for {fields}." if fields else "The body is not an object."
        else:
            details, message = [], f"The body does not match the expected shape: {cause}"
        return error_response(APIError(422, "VALIDATION_ERROR", message, details))

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code, message = HTTP_CODES.get(status, ("HTTP_ERROR", error.description or "HTTP error"))
        if status == 413:
            limit = current_app.config["MAX_CONTENT_LENGTH"]
            message = f"The request body is larger than {limit} bytes; send less."
        if status == 404 and request.url_rule is None:
            message = f"There is nothing at {request.path} (ids in paths are UUIDs)."
        return error_response(APIError(status, code, message))

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Response:
        if database_unavailable(error):
            log.warning("database unavailable: %s", type(error).__name__)
            return error_response(APIError(
                503, "DATABASE_UNAVAILABLE",
                "The database is unreachable right now; retry shortly, nothing was saved.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ))
        log.exception("unhandled error")
        return error_response(APIError(500, "INTERNAL_ERROR", "Something failed on our side."))
