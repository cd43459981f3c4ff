#!/usr/bin/env bash
# Start the twin under Gunicorn, as the seed application's manage.sh does. The gevent plan's
# phase 1 is the one-line switch below; WORKER_CLASS, WORKERS, THREADS, WORKER_CONNECTIONS and
# BIND may also come from the environment (the bench launcher sets them).
set -euo pipefail

WORKER_CLASS="${WORKER_CLASS:-gthread}"   # the plan: change "gthread" to "gevent"

WORKERS="${WORKERS:-1}"
THREADS="${THREADS:-32}"
WORKER_CONNECTIONS="${WORKER_CONNECTIONS:-1000}"
BIND="${BIND:-127.0.0.1:8000}"

exec "${PYTHON:-python}" -m gunicorn \
  --config python:assessment_twin.gunicorn_conf \
  --worker-class "$WORKER_CLASS" \
  --workers "$WORKERS" \
  --threads "$THREADS" \
  --worker-connections "$WORKER_CONNECTIONS" \
  --bind "$BIND" \
  assessment_twin.wsgi:app
