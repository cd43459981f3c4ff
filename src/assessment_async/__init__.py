"""assessment-async: a PHQ-9, LLM chat and camera-capture backend on Quart, Hypercorn and asyncpg."""

__version__ = "0.1.0"
