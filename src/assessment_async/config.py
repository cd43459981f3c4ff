"""One Settings object, read from the environment once and validated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Configuration for every entry point; each field maps to the upper-case variable."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # None means: start the embedded PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: Path = Path(".data")
    embedded_pg_port: int = Field(54329, ge=1024, le=65535)
    db_pool_size: int = Field(10, ge=1, le=200)
    db_pool_timeout: float = Field(5.0, gt=0)
    db_connect_timeout: float = Field(5.0, gt=0)
    # Comma-separated origins of the frontend, e.g. "https://app.example.org,http://localhost:5173".
    cors_origins: Annotated[list[str], NoDecode] = []
    # Quart rejects bodies above this with 413; the contract caps it at 16 MiB.
    max_body_bytes: int = Field(16 * MIB, ge=1024, le=16 * MIB)
    log_level: str = "INFO"

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


def driver_url(url: str, driver: str) -> str:
    """Turn a plain postgresql:// URL into SQLAlchemy's form for one driver (asyncpg, psycopg2)."""
    rest = url.split("://", 1)[1]
    return f"postgresql+{driver}://{rest}"
