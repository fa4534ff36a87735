"""Settings of ``evalstream ui``, from ``EVALSTREAM_UI_*`` variables (documented in docs/ui.md).

The data directory is not among them: the UI reads the results where the worker writes them
(``EVALSTREAM_PARQUET_DIR``), so one variable points both at the same place.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

UI_ENV_PREFIX = "EVALSTREAM_UI_"


class UISettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=UI_ENV_PREFIX, frozen=True, extra="ignore")

    host: str = Field(
        "127.0.0.1", description="Address to bind; the default keeps the UI on this machine."
    )
    port: int = Field(8765, ge=0, le=65535, description="TCP port to listen on.")
    token: SecretStr | None = Field(
        None,
        description="If set, every page and API call needs it: 'Authorization: Bearer <token>'"
        " or the cookie the /login form sets. /health stays open.",
    )
    duckdb_threads: int = Field(2, ge=1, le=64, description="Threads DuckDB may use per query.")
