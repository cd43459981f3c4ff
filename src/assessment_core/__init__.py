"""The framework-free core both apps import: instruments, scoring, FHIR, request and response
bodies, the contract's errors, SSE framing, the frame stream, Settings, the tables and their
migrations, and every SQL statement, written once (sql/).

It imports neither app, nor Quart, Flask, asyncpg or psycopg2: each app brings its own I/O.
"""
