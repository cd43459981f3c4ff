"""The contract's error: a status, a stable code, a message a person can act on, details.

Shared by both apps; each registers its own handlers that turn an APIError into a response.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

# How long a client should wait before retrying while the database is unreachable.
RETRY_AFTER_SECONDS = 2

HTTP_CODES = {
    400: ("BAD_REQUEST", "The request could not be understood."),
    401: ("UNAUTHORIZED", "Authentication is required."),
    404: ("NOT_FOUND", "There is nothing at this path."),
    405: ("METHOD_NOT_ALLOWED", "This path does not accept that method."),
    408: ("BODY_TIMEOUT", "The request body did not arrive in time; send it again."),
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

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def validation_error(error: ValidationError) -> APIError:
    """Pydantic's errors as a 422 naming each field by its dotted path (responses.0.answer)."""
    details = [
        {"field": ".".join(str(part) for part in item["loc"]) or None, "message": item["msg"]}
        for item in error.errors(include_url=False)
    ]
    fields = ", ".join(sorted({d["field"] for d in details if d["field"]}))
    message = f"Invalid value for {fields}." if fields else "The body is not an object."
    return APIError(422, "VALIDATION_ERROR", message, details)


def http_error(status: int, description: str | None, path: str, unrouted: bool,
               max_body: int) -> APIError:
    """A framework's HTTP exception in the contract's words."""
    code, message = HTTP_CODES.get(status, ("HTTP_ERROR", description or "HTTP error"))
    if status == 413:
        message = f"The request body is larger than {max_body} bytes; send less."
    if status == 404 and unrouted:
        message = f"There is nothing at {path} (ids in paths are UUIDs)."
    return APIError(status, code, message)


def database_unavailable_error() -> APIError:
    return APIError(503, "DATABASE_UNAVAILABLE",
                    "The database is unreachable right now; retry shortly, nothing was saved.",
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def internal_error() -> APIError:
    return APIError(500, "INTERNAL_ERROR", "Something failed on our side.")


def too_large(limit: int) -> APIError:
    return APIError(413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} "
                    "bytes; send less.")


def not_json() -> APIError:
    return APIError(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with "
                    "'Content-Type: application/json'.")


def malformed_json(error: Exception) -> APIError:
    return APIError(400, "MALFORMED_JSON", f"The request body is not valid JSON: {error}.")
