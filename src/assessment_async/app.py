"""create_app(settings): the one place that wires blueprints, extensions and error handlers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from quart import Quart, Response, request
from quart_cors import cors
from quart_schema import QuartSchema

from assessment_async.blueprints import (
    captures,
    chat,
    health,
    instruments,
    page,
    phq,
    sessions,
)
from assessment_async.http.backpressure import FlowControlledConnection
from assessment_async.http.docs import serve_docs_offline
from assessment_async.http.errors import register_error_handlers
from assessment_async.http.jsonio import APIRequest, OrjsonProvider, convert_models_only
from assessment_async.http.openapi import ApiDocs
from assessment_async.infra.db import Database
from assessment_async.infra.llm_client import LLMClient
from assessment_async.infra.metrics import ObservedApp, watch_event_loop, watch_garbage_collector
from assessment_async.infra.storage import open_storage
from assessment_async.services.answer_writer import WRITER_CONNECTIONS, AnswerWriter
from assessment_async.serving.metrics_port import serve_metrics_port
from assessment_core.admission import LagGauge
from assessment_core.settings import Settings
from assessment_core.web import (
    CORS_ALLOW_HEADERS,
    CORS_EXPOSE_HEADERS,
    PRIVATE_HEADERS,
    PRIVATE_PREFIX,
)

SECURITY: dict[str, Any] = {"session_token": {"type": "http", "scheme": "bearer"}}


def create_app(settings: Settings) -> Quart:
    """Build the app from settings; the CLI fills in the embedded database and fake LLM."""
    url, llm_url = settings.database_url, settings.llm_base_url
    if url is None or llm_url is None:
        raise ValueError("DATABASE_URL and LLM_BASE_URL are needed; `assessment-async serve` "
                         "starts the embedded PostgreSQL and the fake LLM when they are unset")
    app = Quart(__name__)
    app.request_class = APIRequest
    app.asgi_http_class = FlowControlledConnection
    # Quart's cap is the largest body any route takes (a frame upload); JSON bodies are held
    # to max_body_bytes by APIRequest.get_json.
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_body_bytes,
                                           settings.capture_max_request_bytes)
    app.config["BODY_TIMEOUT"] = settings.body_timeout  # whole JSON bodies; uploads: uploads.py
    app.extensions["settings"] = settings

    QuartSchema(
        app,
        info={"title": "assessment-async", "version": "0.1.0"},
        security_schemes=SECURITY,
        security=[{"session_token": []}],
        openapi_provider_class=ApiDocs,  # documents every route's errors, streams and files
        redoc_ui_path=None, scalar_ui_path=None,  # CDN-only pages: blank on a closed network
    )
    serve_docs_offline(app)  # /docs from the swagger-ui-bundle package
    app.json = OrjsonProvider(app)  # after QuartSchema, which installs its own provider
    if not settings.response_validation:
        convert_models_only(app)  # quart-schema's conversion built a TypeAdapter per response
    if settings.cors_origins:
        cors(app, allow_origin=settings.cors_origins,
             allow_headers=list(CORS_ALLOW_HEADERS),
             allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
             expose_headers=list(CORS_EXPOSE_HEADERS), max_age=600)

    for blueprint in (page.bp, health.bp, sessions.bp, instruments.bp, phq.bp,
                      chat.bp, captures.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    if settings.metrics_port is not None:
        serve_metrics_port(app, settings.metrics_host, settings.metrics_port)
    app.asgi_app = ObservedApp(app.asgi_app)  # type: ignore[method-assign]

    @app.before_request
    async def _label_route() -> None:
        # The route template labels the request's metrics (metrics.ObservedApp reads it).
        if request.url_rule is not None:
            request.scope["route"] = request.url_rule.rule  # type: ignore[typeddict-unknown-key]

    @app.after_request
    async def _private(response: Response) -> Response:
        # A participant's data is never cached, by the browser or anything between: not
        # their answers, not their frames (a shared clinic computer keeps no face images).
        if request.path.startswith(PRIVATE_PREFIX):
            response.headers.update(PRIVATE_HEADERS)
        return response

    @app.while_serving
    async def _lifespan() -> AsyncGenerator[None, None]:
        # DB_POOL_SIZE connections in all, as the twin has: most shared by every route...
        writers = WRITER_CONNECTIONS if settings.group_commit else 0
        app.extensions["db"] = Database(settings, url, pool_size=settings.db_pool_size - writers)
        gauge = LagGauge(settings.chat_admit_lag_ms)  # fed by the loop watcher below
        app.extensions["llm"] = LLMClient(settings, llm_url, gauge)
        app.extensions["background"] = set()
        if settings.group_commit:
            # ...and a few for answer saves alone: a burst of chat turns starting and ending
            # must not queue the product's hottest write behind it.
            app.extensions["answers_db"] = Database(settings, url, pool_size=writers)
            app.extensions["answers"] = AnswerWriter(app.extensions["answers_db"],
                                                     app.extensions["background"])
        app.extensions["storage"] = open_storage(settings)
        lag_watch = asyncio.create_task(watch_event_loop(gauge))
        watch_garbage_collector(settings.gc_freeze, settings.gc_young_threshold)
        yield
        lag_watch.cancel()
        # Turns being stored after their client left must land before the pool closes.
        await asyncio.gather(*app.extensions["background"], return_exceptions=True)
        await app.extensions.pop("llm").aclose()
        await app.extensions.pop("db").dispose()
        if "answers_db" in app.extensions:
            await app.extensions.pop("answers_db").dispose()

    return app
