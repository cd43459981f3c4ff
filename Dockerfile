# Three images from one file (docker-compose.yml builds each by its target):
#   runtime    the product: the ASGI app and its migrations, as a non-root user, nothing else
#              (no twin, no bench, no embedded PostgreSQL, no fake LLM)
#   bench      everything: the twin, the fake LLM, the bench and wrk (its load generator)
#   pgbouncer  Debian's PgBouncer (1.18), the version the topology test runs
# Every Python package is the version in a lock, its hash checked, pip's build backend too.

FROM python:3.11-slim AS runtime
WORKDIR /app
COPY requirements-serve.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-serve.lock
COPY pyproject.toml README.md ./
COPY src ./src
# One wheel holds every package of the project; the product keeps its own and the core.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && rm -rf "$site/assessment_twin" "$site/assessment_bench" "$site/assessment_dev" /app/src \
    && useradd --system --uid 10001 --home-dir /data --create-home assessment
ENV DATA_DIR=/data CAPTURE_DIR=/data/captures
USER assessment
EXPOSE 8000 9100
CMD ["assessment-async", "serve", "--host", "0.0.0.0", "--no-migrate"]

FROM python:3.11-slim AS bench
RUN apt-get update \
    && apt-get install -y --no-install-recommends wrk util-linux \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
COPY deploy ./deploy
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
ENV DATA_DIR=/data CAPTURE_DIR=/data/captures ASSESSMENT_DEPLOY_DIR=/app/deploy
EXPOSE 8000 8001 8100
CMD ["assessment-bench", "run", "--quick"]

FROM debian:bookworm-slim AS pgbouncer
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/*
USER postgres
EXPOSE 6432
CMD ["pgbouncer", "/etc/pgbouncer/pgbouncer.ini"]
