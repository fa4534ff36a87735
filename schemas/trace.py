"""The input trace: what an application sends to the traces topic.

Field names follow MLflow's evaluation vocabulary (inputs, outputs, expectations). Unknown
fields are kept (``extra="allow"``) so apps can send more than we know about today.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas._base import to_utc_datetime

TRACE_SCHEMA_VERSION = 1


class TraceStatus(StrEnum):
    OK = "OK"
    ERROR = "ERROR"


def _normalise_status(value: Any) -> Any:
    if isinstance(value, str):
        upper = value.strip().upper().removeprefix("STATUS_CODE_")
        return "OK" if upper in {"OK", "UNSET", "SUCCESS"} else upper
    return value


class _Open(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")


class Usage(_Open):
    """Token counts; ``total_tokens`` is derived when missing."""

    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    total_tokens: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _derive_total(self) -> Usage:
        counts = (self.input_tokens, self.output_tokens)
        if self.total_tokens is None and counts != (None, None):
            object.__setattr__(
                self, "total_tokens", (self.input_tokens or 0) + (self.output_tokens or 0)
            )
        return self


class Expectations(_Open):
    """Ground truth for quality evaluators (MLflow names)."""

    expected_response: str | None = None
    expected_facts: list[str] | None = None


class Span(_Open):
    """An OpenTelemetry-like span; only the fields evaluators commonly need are typed."""

    span_id: str | None = None
    parent_id: str | None = None
    name: str | None = None
    span_type: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: TraceStatus | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    _ts = field_validator("start_time", "end_time", mode="before")(to_utc_datetime)
    _status = field_validator("status", mode="before")(_normalise_status)


class Trace(_Open):
    """One request/response of a GenAI application, as evaluators see it."""

    schema_version: int = TRACE_SCHEMA_VERSION
    trace_id: str = Field(min_length=1, max_length=256)
    timestamp: datetime | None = None
    inputs: Any = None
    outputs: Any = None
    context: list[str] | None = None
    expectations: Expectations | None = None
    status: TraceStatus = TraceStatus.OK
    error: str | None = None
    latency_ms: float | None = Field(default=None, ge=0)
    model: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = Field(default=None, ge=0)
    tags: dict[str, str] = Field(default_factory=dict)
    spans: list[Span] | None = None

    _ts = field_validator("timestamp", mode="before")(to_utc_datetime)
    _status = field_validator("status", mode="before")(_normalise_status)

    @field_validator("context", mode="before")
    @classmethod
    def _context_as_list(cls, value: Any) -> Any:
        """A single retrieved document may be sent as a plain string."""
        return [value] if isinstance(value, str) else value

    @property
    def app(self) -> str:
        """The application name, from the ``app`` tag (``unknown`` when absent)."""
        return self.tags.get("app", "unknown")

    @property
    def input_tokens(self) -> int | None:
        return self.usage.input_tokens if self.usage else None

    @property
    def output_tokens(self) -> int | None:
        return self.usage.output_tokens if self.usage else None
