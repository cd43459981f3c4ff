"""assessment-async: PHQ-9, LLM chat and camera capture as an ASGI app (Quart, asyncpg)."""

__version__ = "0.1.0"
