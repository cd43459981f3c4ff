"""create_app(settings): the Flask twin, wired as the ASGI app is."""

from __future__ import annotations

import os

from flask import Flask
from flask_cors import CORS

from assessment_core.settings import Settings
from assessment_twin.db import make_engine
from assessment_twin.http import APIRequest, OrjsonProvider, register_error_handlers
from assessment_twin.llm_client import SyncLLMClient
from assessment_twin.routes import captures, chat, phq
from assessment_twin.services.camera import CameraAssessmentService
from assessment_twin.services.llm import LLMConversationService
from assessment_twin.services.phq import PHQResponseService
from assessment_twin.services.sessions import SessionService
from assessment_twin.storage import SyncLocalStorage


def create_app(settings: Settings, phase2: bool | None = None) -> Flask:
    """Build the twin; phase2 (or TWIN_PHASE2=1) routes service calls through asyncio.run()."""
    if settings.database_url is None or settings.llm_base_url is None:
        raise ValueError("DATABASE_URL and LLM_BASE_URL are needed; `assessment-bench serve` "
                         "starts the embedded PostgreSQL and the fake LLM when they are unset")
    app = Flask(__name__)
    app.request_class = APIRequest
    app.json = OrjsonProvider(app)
    app.config["SETTINGS"] = settings
    app.config["PHASE2"] = os.environ.get("TWIN_PHASE2") == "1" if phase2 is None else phase2
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_body_bytes,
                                           settings.capture_max_request_bytes)
    app.config["JSON_MAX_BYTES"] = settings.max_body_bytes
    if settings.cors_origins:
        CORS(app, origins=settings.cors_origins, allow_headers=["Authorization", "Content-Type"],
             expose_headers=["X-Clinical-Alert", "Retry-After"], max_age=600)

    engine = make_engine(settings, settings.database_url)
    for service in (SessionService, PHQResponseService, LLMConversationService,
                    CameraAssessmentService):
        service.engine = engine
    app.extensions["llm"] = SyncLLMClient(settings, settings.llm_base_url)
    app.extensions["storage"] = SyncLocalStorage(settings.capture_dir)

    for blueprint in (phq.bp, chat.bp, captures.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    return app
