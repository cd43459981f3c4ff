# One image for every service of docker-compose.yml: the ASGI app, the gevent twin, the fake
# LLM, migrations and the bench (which needs wrk and taskset). Every Python package is the
# version in requirements.lock, its hash checked, pip and the build backend included.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends wrk util-linux \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
ENV DATA_DIR=/data CAPTURE_DIR=/data/captures
EXPOSE 8000 8001 8100
CMD ["assessment-async", "serve", "--host", "0.0.0.0", "--no-migrate"]
