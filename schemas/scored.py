"""The message on the scored-traces topic: one per trace, keyed by ``trace_id``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas._base import Message
from schemas.result import EvaluationResult

SCORED_TRACE_SCHEMA_VERSION = 1


class SourceOffset(Message):
    """Where the trace was read from: with the trace id, an idempotence key for consumers."""

    topic: str
    partition: int
    offset: int


class ScoredTrace(Message):
    """A trace summary plus every evaluation result for it."""

    schema_version: int = SCORED_TRACE_SCHEMA_VERSION
    trace_id: str
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
