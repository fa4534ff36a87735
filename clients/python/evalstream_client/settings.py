"""The SDK's own settings, read from ``EVALSTREAM_*`` environment variables.

The SDK is a leaf (an application installs it without the stream worker), so it cannot use
the worker's ``pipeline.settings``; it reads the few variables it needs here, with the same
names and defaults, and documents them in docs/sdk.md. The trace-logging knobs also answer to
MLflow's names in our prefix (``EVALSTREAM_ENABLE_ASYNC_TRACE_LOGGING`` for
``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING`` ...), so an MLflow user finds them where expected.

Anything with the same attribute names can stand in for ``ClientSettings`` (``coerce``): the
worker's ``Settings`` does, so ``TraceProducer(load_settings(...))`` keeps working.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evalstream_client.exceptions import ClientSettingsError

ENV_PREFIX = "EVALSTREAM_"
Policy = Literal["block", "spill", "drop"]
POLICIES = ("block", "spill", "drop")
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SPANS_ENCODINGS = ("otlp_proto", "otlp_json")

# Field -> environment variable names, first found wins (MLflow's name first, ours after).
ALIASES: dict[str, tuple[str, ...]] = {
    "async_logging": ("ENABLE_ASYNC_TRACE_LOGGING",),
    "async_max_workers": ("ASYNC_TRACE_LOGGING_MAX_WORKERS", "ASYNC_MAX_WORKERS"),
    "async_max_queue_size": ("ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE", "ASYNC_MAX_QUEUE_SIZE"),
    "async_retry_timeout": ("ASYNC_TRACE_LOGGING_RETRY_TIMEOUT", "ASYNC_RETRY_TIMEOUT"),
}


@dataclass(frozen=True)
class ClientSettings:
    """Every setting of the SDK; each line's environment variable is ``EVALSTREAM_<NAME>``."""

    bootstrap_servers: str = "127.0.0.1:9092"
    input_topic: str = "traces"
    scored_topic: str = "scored-traces"
    spans_topic: str = "otlp_spans"
    spans_encoding: str = "otlp_proto"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)  # never logged
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    async_logging: bool = True  # False: log_trace returns once Kafka acknowledged the trace
    sync_timeout: float = 30.0  # longest wait of a synchronous log_trace
    async_max_workers: int = 10
    async_max_queue_size: int = 1000
    async_retry_timeout: float = 500.0
    async_queue_full_policy: str = "spill"
    spill_dir: Path = Path("evalstream-data/spill")
    outage_log_interval: float = 30.0  # one outage warning line per interval, with counts

    def __post_init__(self) -> None:
        _check_choice("security_protocol", self.security_protocol, SECURITY_PROTOCOLS)
        _check_choice("sasl_mechanism", self.sasl_mechanism, SASL_MECHANISMS)
        _check_choice("spans_encoding", self.spans_encoding, SPANS_ENCODINGS)
        _check_choice("async_queue_full_policy", self.async_queue_full_policy, POLICIES)
        for name in ("async_max_workers", "async_max_queue_size", "async_retry_timeout"):
            if getattr(self, name) <= 0:
                raise ClientSettingsError(f"{_env_name(name)} must be > 0")
        if self.sync_timeout < 0 or self.outage_log_interval < 0:
            raise ClientSettingsError("timeouts and intervals must be >= 0")

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ClientSettings:
        """Settings from ``EVALSTREAM_*`` variables, explicit overrides (not None) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            for name in ALIASES.get(f.name, (f.name.upper(),)):
                raw = env.get(ENV_PREFIX + name)
                if raw is not None:
                    values[f.name] = _parse(ENV_PREFIX + name, raw, f.type)
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def coerce(cls, settings: Any = None) -> ClientSettings:
        """``ClientSettings`` from None (the environment), itself, or a look-alike object.

        A look-alike (the worker's ``Settings``) gives the attributes it has; the rest come
        from the environment. Secrets given as pydantic ``SecretStr`` are unwrapped.
        """
        if settings is None:
            return cls.from_env()
        if isinstance(settings, cls):
            return settings
        found = {}
        for f in dataclasses.fields(cls):
            if hasattr(settings, f.name):
                value = getattr(settings, f.name)
                found[f.name] = getattr(value, "get_secret_value", lambda v=value: v)()
        return cls.from_env(**found)


def _env_name(field_name: str) -> str:
    return ENV_PREFIX + ALIASES.get(field_name, (field_name.upper(),))[0]


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ClientSettingsError(f"{_env_name(name)}={value!r}: expected one of {choices}")


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {raw!r}")


_PARSERS: dict[str, Callable[[str], Any]] = {
    "bool": _parse_bool,
    "int": int,
    "float": float,
    "Path": Path,
    "Path | None": lambda raw: Path(raw) if raw else None,
    "str | None": lambda raw: raw or None,
}


def _parse(variable: str, raw: str, annotation: Any) -> Any:
    parser = _PARSERS.get(str(annotation), str)
    try:
        return parser(raw)
    except ValueError as exc:
        raise ClientSettingsError(f"{variable}={raw!r}: {exc}") from None
