"""JSON in and out with orjson: RFC 3339 datetimes and UUIDs natively, strict parsing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from quart import Quart, current_app
from quart.json.provider import DefaultJSONProvider
from quart.wrappers import Request

from assessment_async.http.backpressure import BoundedBody
from assessment_core.errors import malformed_json, not_json, too_large


class OrjsonProvider(DefaultJSONProvider):
    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # OpenAPI documents key responses by status code, an int.
        return orjson.dumps(obj, default=to_jsonable_python,
                            option=orjson.OPT_NON_STR_KEYS).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)


class APIRequest(Request):
    """Body errors in the contract's words: 415 for a body that is not JSON, 400 for bad JSON;
    bodies get flow control (backpressure.py)."""

    body_class = BoundedBody

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or silent or self.is_json):
            raise not_json()
        limit = current_app.extensions["settings"].max_body_bytes
        if (self.content_length or 0) > limit:
            raise too_large(limit)
        data = await self.get_data(cache=True)
        if len(data) > limit:  # a chunked body had no length
            raise too_large(limit)
        # Parsed as bytes: Quart decodes the text before its JSON error handling, so a body
        # that is not UTF-8 would escape it as a 500; orjson calls it invalid JSON (400).
        try:
            result = self.json_module.loads(data)
        except ValueError as error:
            result = None if silent else self.on_json_loading_failed(error)
        if cache:
            self._cached_json[silent] = result
        return result

    def on_json_loading_failed(self, error: Exception) -> Any:
        raise malformed_json(error)


def convert_models_only(app: Quart) -> None:
    """Replace quart-schema's response conversion with one that converts pydantic models only.

    quart-schema runs every value a route returns through a freshly built pydantic
    TypeAdapter, which cost about 8% of a one-answer save's CPU (docs/performance.md). The
    routes here return JSON-ready dicts and lists, which OrjsonProvider writes as they are.
    Call after QuartSchema(app), which installs its conversion on app.make_response.
    """
    make_response: Callable[[Any], Awaitable[Any]] = type(app).make_response.__get__(app)

    async def convert(result: Any) -> Any:
        if isinstance(result, tuple) and result and isinstance(result[0], BaseModel):
            result = (result[0].model_dump(mode="json"), *result[1:])
        elif isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        return await make_response(result)

    app.make_response = convert  # type: ignore[method-assign]
