"""One Settings object, read from the environment once and validated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024


SERVERS = ("uvicorn", "hypercorn")  # the ASGI servers `serve` can run (servers.py)


class Settings(BaseSettings):
    """Configuration for every entry point; each field maps to the upper-case variable."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # None means: start the embedded PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: Path = Path(".data")
    embedded_pg_port: int = Field(54329, ge=1024, le=65535)
    # Connections per worker process, all uses together (the ASGI app keeps 2 of them for
    # answer saves: services/answer_writer.py).
    db_pool_size: int = Field(10, ge=3, le=200)
    # How long a request waits for a pooled connection before 503. Under overload queueing
    # beats refusing here: a typed answer or message should be saved, if a little late.
    db_pool_timeout: float = Field(30.0, gt=0)
    db_connect_timeout: float = Field(5.0, gt=0)
    # Prepared statements asyncpg keeps per connection. Behind PgBouncer in transaction mode
    # set 0: a named statement prepared on one backend does not exist on the next
    # (docs/deploy.md has what it costs).
    db_statement_cache_size: int = Field(100, ge=0)
    # Comma-separated origins of the frontend, e.g. "https://app.example.org,http://localhost:5173".
    cors_origins: Annotated[list[str], NoDecode] = []
    # Quart rejects bodies above this with 413; the contract caps it at 16 MiB.
    max_body_bytes: int = Field(16 * MIB, ge=1024, le=16 * MIB)
    # Longest wait for a whole JSON body; a client trickling it in gets 408.
    body_timeout: float = Field(15.0, gt=0)
    # The ASGI server `serve` runs (servers.py): uvicorn, or hypercorn.
    server: Literal["uvicorn", "hypercorn"] = "uvicorn"
    # How long a kept-alive connection may sit idle between requests before the server
    # closes it (Uvicorn, Hypercorn and Gunicorn all default to 5 s).
    keepalive_timeout: float = Field(5.0, gt=0, le=3600)
    # Move everything made at start-up out of the garbage collector's reach once the app is
    # ready: a full collection then scans only what requests made (gc.freeze, metrics.py).
    gc_freeze: bool = True
    # Allocations between two young collections (Python's default: 700). Under load, every
    # object of a request still running when a young collection comes is promoted, and
    # promotions trigger the full collections, each a pause of every request; a higher
    # threshold lets most requests end before their objects are ever examined.
    gc_young_threshold: int = Field(700, ge=1)
    # GET /metrics is served on a port of its own (serving/metrics_port.py), bound to
    # METRICS_HOST; unset, no metrics listener. Never on the API's port: the API is public.
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"
    # "json": one JSON object per line (for log shippers); "text": plain lines for a terminal.
    log_format: Literal["json", "text"] = "json"

    # Camera frames: where they are stored, and the caps on an upload. STORAGE_URL
    # `s3://bucket/prefix` keeps them in an S3-compatible store, configured by the AWS
    # variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION);
    # unset or `file:///path`, in a folder (CAPTURE_DIR by default).
    storage_url: str | None = None
    capture_dir: Path = Path(".data/captures")
    # An object store's upload part: a frame up to this size is one PUT, a larger one a
    # multipart upload of parts this size (S3 needs at least 5 MiB). Memory per upload is
    # about two parts.
    storage_part_bytes: int = Field(8 * MIB, ge=5 * MIB)
    capture_max_frame_bytes: int = Field(10 * MIB, ge=1024)
    capture_max_request_bytes: int = Field(64 * MIB, ge=1024)
    capture_max_frames: int = Field(32, ge=1, le=1000)
    # Longest wait for the next piece of an upload body, and for the whole body.
    upload_idle_timeout: float = Field(10.0, gt=0)
    upload_timeout: float = Field(120.0, gt=0)

    # The LLM upstream, OpenAI style (ending in /v1). None: `serve` starts the fake LLM.
    llm_base_url: str | None = None
    llm_api_key: SecretStr = SecretStr("not-needed")
    llm_model: str = "fake-llm"
    # Extra headers for every upstream call, as JSON, e.g. '{"X-Title": "assessment"}'.
    llm_extra_headers: dict[str, str] = {}
    # "aiohttp" (httpx over the httpx-aiohttp transport) or "httpx" (httpx's own transport).
    llm_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    llm_connect_timeout: float = Field(5.0, gt=0)
    # Longest silence between two chunks of a stream (and before the first).
    llm_read_timeout: float = Field(30.0, gt=0)
    # Longest a whole turn may take; Quart's 60 s response timeout is off for streams.
    llm_turn_timeout: float = Field(180.0, gt=0)
    # While a turn waits for its first token (up to LLM_READ_TIMEOUT), a comment line goes to
    # the client this often, so that no proxy cuts the quiet connection.
    chat_keepalive_seconds: float = Field(15.0, gt=0)
    # Open upstream streams per worker; a chat beyond it waits llm_slot_timeout, then 503.
    llm_max_streams: int = Field(1000, ge=1)
    llm_slot_timeout: float = Field(5.0, ge=0)
    # A new chat is refused (503 LLM_BUSY, Retry-After) while the worker's lag (the median
    # of its last ticks) is above this, so the answers keep their latency
    # (assessment_core/admission.py); 0: off.
    chat_admit_lag_ms: float = Field(15.0, ge=0)
    # After relaying a batch of tokens, wait until this long after the last write before
    # reading the upstream again: what arrived meanwhile goes in one read and one write. 0:
    # each upstream read relayed at once.
    chat_relay_interval_ms: float = Field(0.0, ge=0, le=1000)
    # Chat turns a session may start per minute (each costs money upstream); 0: no limit.
    chat_turns_per_minute: int = Field(20, ge=0)
    # Earlier turns sent with each prompt.
    llm_history_turns: int = Field(10, ge=0, le=100)
    llm_system_prompt: str = (
        "You are a supportive assistant in a mental-health assessment. Listen, reflect, and "
        "encourage the participant to talk with their care team; never diagnose."
    )

    # The ASGI app's own levers, switchable so the bench prices each one on both sides:
    # one-answer saves coalesced into one statement (services/answer_writer.py), and
    # quart-schema's per-response conversion skipped (http/jsonio.convert_models_only).
    group_commit: bool = True
    response_validation: bool = False
    # The gevent twin's levers, each its own switch so the bench prices each one:
    # gevent-green is the plan as written (psycogreen only); gevent-tuned turns on every
    # lever that helped (assessment_bench/variants.py; docs/performance.md has the figures).
    twin_psycogreen: bool = False  # patch psycopg2 to yield to gevent (what phase 1 needs)
    twin_phase2: bool = False  # the notes' asyncio.run() wrappers in the routes
    twin_group_commit: bool = False  # one-answer saves coalesced by a writer greenlet
    # Statements that stand alone run without BEGIN and COMMIT (two round trips each);
    # transactions send BEGIN themselves, as asyncpg does.
    twin_autocommit: bool = False
    twin_lean_chat: bool = False  # a chat starts in the ASGI app's two statements, not five
    twin_batch_writes: bool = False  # one write per upstream read, not one per token
    # The ASGI app's body timeouts (BODY_TIMEOUT, UPLOAD_*): Gunicorn has none of its own.
    twin_body_timeouts: bool = False
    twin_chat_admission: bool = False  # chats refused while the worker lags (above)
    twin_llm_client: Literal["requests", "geventhttpclient", "httpx"] = "requests"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            scheme = value.split("://", 1)[0]
            raise ValueError(
                f"DATABASE_URL must start with postgresql:// (got {scheme}://); "
                "the driver is chosen by the app"
            )
        return value


def chat_completions_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/chat/completions"


def driver_url(url: str, driver: str) -> str:
    """Turn a plain postgresql:// URL into SQLAlchemy's form for one driver (asyncpg, psycopg2)."""
    rest = url.split("://", 1)[1]
    return f"postgresql+{driver}://{rest}"
