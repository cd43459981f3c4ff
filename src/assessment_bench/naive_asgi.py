"""ASGI entry for the `asgi-naive` bench variant."""

from assessment_bench.naive import create_naive_app
from assessment_core.settings import Settings

app = create_naive_app(Settings())
