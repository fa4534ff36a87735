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
    score_sketch: dict[int, int] = Field(default_factory=dict)
    """DDSketch bins of ``1 + score`` (``LATENCY_SKETCH_RELATIVE_ACCURACY``): merge by
    summing; quantiles within 0.02 absolute (pipeline/evaluate/sketch.py)."""


LATENCY_BUCKETS_MS: tuple[float, ...] = (
    50,
    100,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10000,
    20000,
    60000,
)
"""Upper bounds of ``latency_histogram`` buckets; a last bucket counts everything above."""

LATENCY_SKETCH_RELATIVE_ACCURACY = 0.01
"""``latency_sketch`` is a DDSketch with this relative accuracy (logarithmic mapping, gamma =
(1 + a) / (1 - a)): bin key ``ceil(log(latency_ms) / log(gamma))``; merged quantiles are
within 1% of the true value at that rank."""


class MetricsRecord(Message):
    """A mergeable partial aggregate of one tumbling window (event time) for one app.

    Each record covers the traces of one source partition that one commit of one worker
    made durable, and is written in the same Kafka transaction as those traces' offsets, so
    nothing is counted twice or missed after a crash. A window therefore arrives as several
    records with the same key (``app|window_start``): sum ``trace_count``, ``error_count``,
    tokens, cost, ``latency_histogram`` and ``latency_sketch`` (bin by bin) across them; the
    per-record percentiles are exact for that record only, quantiles of the summed
    ``latency_sketch`` are within ``LATENCY_SKETCH_RELATIVE_ACCURACY`` for the whole window.
    Per-evaluator means are recoverable as ``mean_score * scored``.
    """

    schema_version: int = METRICS_SCHEMA_VERSION
    window_start: datetime
    window_end: datetime
    app: str
    worker_id: str
    source_partition: int = 0
    trace_count: int
    error_count: int
    error_rate: float
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_histogram: list[int] = Field(default_factory=list)
    latency_sketch: dict[int, int] = Field(default_factory=dict)
    evaluators: dict[str, EvaluatorAggregate] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.app}|{self.window_start.isoformat()}"
