"""ASGI entry for the `asgi-naive` bench variant."""

from assessment_async.config import Settings
from assessment_async.naive import create_naive_app

app = create_naive_app(Settings())
