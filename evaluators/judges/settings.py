"""Every judge parameter in one place, with its default, bounds and environment variable.

The parameters come from the TOML ``judge = {...}`` table of a quality evaluator, so they are
validated here once, with messages that name the key, and the evaluator only passes them on.
"""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.judges.exceptions import JudgeConfigError

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "EVALSTREAM_JUDGE_BASE_URL"
MODEL_ENV = "EVALSTREAM_JUDGE_MODEL"
DEFAULT_MODEL = "gpt-4o-mini"

Kind = Literal["correctness", "safety", "context_sufficiency"]
KINDS: tuple[str, ...] = ("correctness", "safety", "context_sufficiency")


class ModelPrice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class JudgeSettings(BaseModel):
    """Judge parameters. ``None`` for a limit means "no limit"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    """OpenAI-compatible API root; default env ``EVALSTREAM_JUDGE_BASE_URL``, else OpenAI."""
    model: str | None = None
    """Judge model; default env ``EVALSTREAM_JUDGE_MODEL``, else ``gpt-4o-mini``."""
    api_key_env: str = "OPENAI_API_KEY"
    """Name of the env var holding the key (the key itself never goes in a config file).
    Unset or empty variable: no ``Authorization`` header (fine for local vLLM / Ollama)."""
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, gt=0)
    json_mode: bool = True
    """Send ``response_format = {"type": "json_object"}`` (turn off for servers without it)."""
    timeout_seconds: float = Field(default=30.0, gt=0)
    """Per HTTP request."""
    max_retries: int = Field(default=4, ge=0, le=20)
    """Retries after the first attempt, on 429 / 5xx / connection errors / timeouts."""
    backoff_seconds: float = Field(default=0.5, ge=0)
    """Base of the exponential backoff (full jitter); a ``Retry-After`` header wins if longer."""
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    budget_seconds: float = Field(default=120.0, gt=0)
    """Overall time for one verdict: rate-limit waits, attempts and backoff together."""
    max_concurrency: int = Field(default=4, ge=1, le=256)
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)
    cache_size: int = Field(default=10_000, ge=0)
    """Entries kept (least recently used evicted); 0 disables the cache."""
    cache_path: str | None = None
    """SQLite file to keep verdicts across restarts; default in memory only."""
    max_field_chars: int = Field(default=8_000, ge=100)
    """Each trace field put into the prompt is cut to this many characters."""
    prices: dict[str, ModelPrice] | None = None
    """USD per million tokens by judge model; else ``evaluators.pricing.PriceTable``."""

    @field_validator("prices", mode="before")
    @classmethod
    def _pairs_to_prices(cls, value: Any) -> Any:
        """Accept ``[input, output]`` pairs as well as the ``[pricing]`` table shape."""
        if isinstance(value, dict):
            return {
                name: {"input_per_million": p[0], "output_per_million": p[1]}
                if isinstance(p, list | tuple) and len(p) == 2
                else p
                for name, p in value.items()
            }
        return value

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return _valid_url(value)

    def resolved_base_url(self) -> str:
        return _valid_url(self.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)

    def resolved_model(self) -> str:
        return self.model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL


def _valid_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an http(s) URL, got {value!r}")
    return value.strip().rstrip("/")


def load_settings(kind: str, params: dict[str, Any]) -> JudgeSettings:
    """Validate ``kind`` and the parameters, raising ``JudgeConfigError`` naming each bad key."""
    if kind not in KINDS:
        raise JudgeConfigError(f"judge kind must be one of {', '.join(KINDS)}; got {kind!r}")
    try:
        settings = JudgeSettings(**params)
        settings.resolved_base_url()  # the env variable may hold a bad URL too
    except ValidationError as exc:
        problems = "; ".join(
            f"judge.{'.'.join(str(p) for p in err['loc']) or '?'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise JudgeConfigError(f"invalid judge parameters: {problems}") from None
    except ValueError as exc:
        raise JudgeConfigError(f"invalid judge parameters: {BASE_URL_ENV}: {exc}") from None
    return settings
