"""ASGI entry for servers started by import path (hypercorn, uvicorn, granian workers).

Reads Settings from the environment; the CLI sets DATABASE_URL before the workers import this.
"""

from assessment_async.app import create_app
from assessment_async.infra.logs import configure_logging
from assessment_core.settings import Settings

settings = Settings()
configure_logging(settings)  # uvicorn and granian workers come here without the CLI
app = create_app(settings)
