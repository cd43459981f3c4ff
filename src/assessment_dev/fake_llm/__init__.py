"""A fake OpenAI-compatible chat-completions server with latency profiles and fault injection.

The default upstream in development, tests and the bench: `assessment-async fake-llm`.
"""
