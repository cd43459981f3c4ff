"""ASGI entry for servers started by import path (hypercorn, uvicorn, granian workers).

Reads Settings from the environment; the CLI sets DATABASE_URL before the workers import this.
"""

from assessment_async.app import create_app
from assessment_async.config import Settings

app = create_app(Settings())
