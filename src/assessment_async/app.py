"""create_app(settings): the one place that wires blueprints, extensions and error handlers."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from quart import Quart
from quart_cors import cors
from quart_schema import QuartSchema

from assessment_async.blueprints import health, phq, sessions
from assessment_async.config import Settings
from assessment_async.db import Database
from assessment_async.errors import register_error_handlers
from assessment_async.jsonio import APIRequest, OrjsonProvider

SECURITY: dict[str, Any] = {"session_token": {"type": "http", "scheme": "bearer"}}


def create_app(settings: Settings, database_url: str | None = None) -> Quart:
    """Build the app; `database_url` overrides settings (the CLI passes the embedded server's)."""
    url = database_url or settings.database_url
    if url is None:
        raise ValueError("no database: set DATABASE_URL, or start through the CLI, which "
                         "starts the embedded PostgreSQL")
    app = Quart(__name__)
    app.request_class = APIRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["settings"] = settings

    QuartSchema(
        app,
        info={"title": "assessment-async", "version": "0.1.0"},
        security_schemes=SECURITY,
        security=[{"session_token": []}],
    )
    app.json = OrjsonProvider(app)  # after QuartSchema, which installs its own provider
    if settings.cors_origins:
        cors(app, allow_origin=settings.cors_origins,
             allow_headers=["Authorization", "Content-Type"],
             allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
             expose_headers=["X-Clinical-Alert", "Retry-After"], max_age=600)

    for blueprint in (health.bp, sessions.bp, phq.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)

    @app.while_serving
    async def _lifespan() -> AsyncGenerator[None, None]:
        app.extensions["db"] = Database(settings, url)
        yield
        await app.extensions.pop("db").dispose()

    return app
