"""The gevent twin: the same API as assessment_async, as the gevent plan would build it.

Flask with sync services on SQLAlchemy + psycopg2, served by Gunicorn with gthread or gevent
workers (see manage.sh). It shares the ASGI app's domain code (rules, bodies, schema); only
the I/O layer differs, so the bench compares the concurrency models and nothing else.
"""
