"""Windowed aggregates on the metrics topic, keyed by ``app|window_start``."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas._base import Message

METRICS_SCHEMA_VERSION = 1


class EvaluatorAggregate(Message):
    """Per-evaluator figures of one window. Means skip not-applicable and errored results."""

    evaluations: int
    scored: int
    mean_score: float | None = None
    pass_rate: float | None = None
    error_count: int = 0


class MetricsRecord(Message):
    """Aggregates of the traces one worker scored in one tumbling window for one app.

    A window is emitted once when event time passes its end (plus allowed lateness) or when
    the worker stops; traces that arrive later for an emitted window produce another record
    for the same window with a higher ``revision`` that covers only those late traces.
    So ``trace_count`` values can be summed; percentiles are exact per record.
    """

    schema_version: int = METRICS_SCHEMA_VERSION
    window_start: datetime
    window_end: datetime
    app: str
    worker_id: str
    revision: int = 0
    trace_count: int
    error_count: int
    error_rate: float
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    evaluators: dict[str, EvaluatorAggregate] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.app}|{self.window_start.isoformat()}"
