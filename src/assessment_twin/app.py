"""create_app(settings): the Flask twin, wired as the ASGI app is."""

from __future__ import annotations

from flask import Flask, Response, request
from flask_cors import CORS

from assessment_core.answer_batches import WRITER_CONNECTIONS
from assessment_core.settings import Settings
from assessment_core.web import (
    CORS_ALLOW_HEADERS,
    CORS_EXPOSE_HEADERS,
    PRIVATE_HEADERS,
    PRIVATE_PREFIX,
)
from assessment_twin.admission import watched_gauge
from assessment_twin.body_timeouts import BodyTimeouts
from assessment_twin.db import make_engine
from assessment_twin.http import APIRequest, OrjsonProvider, register_error_handlers
from assessment_twin.llm_client import SyncLLMClient
from assessment_twin.routes import captures, chat, instruments, page, phq
from assessment_twin.services.answer_writer import AnswerWriter
from assessment_twin.services.camera import CameraAssessmentService
from assessment_twin.services.llm import LLMConversationService
from assessment_twin.services.phq import PHQResponseService
from assessment_twin.services.sessions import SessionService
from assessment_twin.storage import open_storage


def create_app(settings: Settings, phase2: bool | None = None) -> Flask:
    """Build the twin from settings; its levers (TWIN_*) are settings too. `phase2` (or
    TWIN_PHASE2=1) routes service calls through asyncio.run()."""
    if settings.twin_lean_chat and not settings.twin_autocommit:
        raise ValueError("TWIN_LEAN_CHAT needs TWIN_AUTOCOMMIT: its statements stand alone, "
                         "and a refused insert must not abort a transaction around them")
    if settings.database_url is None or settings.llm_base_url is None:
        raise ValueError("DATABASE_URL and LLM_BASE_URL are needed; `assessment-bench serve` "
                         "starts the embedded PostgreSQL and the fake LLM when they are unset")
    app = Flask(__name__)
    app.request_class = APIRequest
    app.json = OrjsonProvider(app)
    app.config["SETTINGS"] = settings
    app.config["PHASE2"] = settings.twin_phase2 if phase2 is None else phase2
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_body_bytes,
                                           settings.capture_max_request_bytes)
    app.config["JSON_MAX_BYTES"] = settings.max_body_bytes
    if settings.cors_origins:
        CORS(app, origins=settings.cors_origins, allow_headers=list(CORS_ALLOW_HEADERS),
             expose_headers=list(CORS_EXPOSE_HEADERS), max_age=600)

    # DB_POOL_SIZE connections in all, as the ASGI app has; with group commit, a few of them
    # are the writer's alone, in autocommit (its one statement is its transaction).
    writers = WRITER_CONNECTIONS if settings.twin_group_commit else 0
    engine = make_engine(settings, settings.database_url,
                         pool_size=settings.db_pool_size - writers)
    for service in (SessionService, PHQResponseService, LLMConversationService,
                    CameraAssessmentService):
        service.engine = engine
    if settings.twin_group_commit:
        app.extensions["answers"] = AnswerWriter(make_engine(
            settings, settings.database_url, pool_size=writers, autocommit=True))
    gauge = watched_gauge(settings.chat_admit_lag_ms if settings.twin_chat_admission else 0)
    app.extensions["llm"] = SyncLLMClient(settings, settings.llm_base_url, gauge)
    app.extensions["storage"] = open_storage(settings)  # in the worker: no --preload

    for blueprint in (page.bp, phq.bp, instruments.bp, chat.bp, captures.bp):
        app.register_blueprint(blueprint)
    if settings.twin_body_timeouts:
        app.wsgi_app = BodyTimeouts(app.wsgi_app, settings)  # type: ignore[method-assign]

    @app.after_request
    def _private(response: Response) -> Response:
        # A participant's data is never cached, by the browser or anything between: not
        # their answers, not their frames (a shared clinic computer keeps no face images).
        if request.path.startswith(PRIVATE_PREFIX):
            response.headers.update(PRIVATE_HEADERS)
        return response

    register_error_handlers(app)
    return app
