"""The message on the scored-traces topic: one per trace, keyed by ``trace_id``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from schemas._base import Message
from schemas.result import EvaluationResult

SCORED_TRACE_SCHEMA_VERSION = 1


class SourceOffset(Message):
    """Where the trace was read from: with the trace id, an idempotence key for consumers."""

    topic: str
    partition: int
    offset: int


class TraceBody(Message):
    """What the trace said, carried (redacted) so the Parquet stage can store the ``traces``
    and ``spans`` datasets from the committed scored topic alone: no second read of the input
    topic, one exactly-once path for all three datasets (see docs/guarantees.md)."""

    inputs: Any = None
    outputs: Any = None
    context: list[str] | None = None
    expectations: dict[str, Any] | None = None
    spans: list[dict[str, Any]] = Field(default_factory=list)


class ScoredTrace(Message):
    """A trace summary plus every evaluation result for it."""

    schema_version: int = SCORED_TRACE_SCHEMA_VERSION
    trace_id: str
    trace_version: int = Field(1, ge=1)
    timestamp: datetime
    app: str
    model: str | None = None
    status: str
    error: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    results: list[EvaluationResult]
    source: SourceOffset
    scored_at: datetime
    body: TraceBody | None = None
