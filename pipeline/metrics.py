"""Tumbling-window aggregates per app, in event time (the trace timestamp).

A window closes when the highest timestamp seen passes its end plus the allowed lateness,
or when the worker stops. A trace that arrives after its window was emitted starts a new
*revision* of that window covering only the late traces, so counts across records add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.scoring import ScoredRecord
from schemas import EvaluatorAggregate, MetricsRecord, TraceStatus


@dataclass
class _EvaluatorTally:
    evaluations: int = 0
    scores: list[float] = field(default_factory=list)
    passed: int = 0
    judged: int = 0
    errors: int = 0

    def add(self, score: float | None, passed: bool | None, error: str | None) -> None:
        self.evaluations += 1
        if error is not None:
            self.errors += 1
        if score is not None:
            self.scores.append(score)
        if passed is not None:
            self.judged += 1
            self.passed += int(passed)

    def aggregate(self) -> EvaluatorAggregate:
        return EvaluatorAggregate(
            evaluations=self.evaluations,
            scored=len(self.scores),
            mean_score=float(np.mean(self.scores)) if self.scores else None,
            pass_rate=self.passed / self.judged if self.judged else None,
            error_count=self.errors,
        )


@dataclass
class _Window:
    traces: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    evaluators: dict[str, _EvaluatorTally] = field(default_factory=dict)

    def add(self, record: ScoredRecord) -> None:
        trace = record.trace
        self.traces += 1
        self.errors += int(trace.status is TraceStatus.ERROR)
        if trace.latency_ms is not None:
            self.latencies.append(trace.latency_ms)
        self.input_tokens += trace.input_tokens or 0
        self.output_tokens += trace.output_tokens or 0
        self.cost_usd += record.cost_usd or 0.0
        for result in record.results:
            tally = self.evaluators.setdefault(result.evaluator, _EvaluatorTally())
            tally.add(result.score, result.passed, result.error)


class WindowAggregator:
    """Collects scored records into windows and hands out the closed ones."""

    def __init__(self, window_seconds: int, lateness_seconds: int, worker_id: str) -> None:
        self.width = timedelta(seconds=window_seconds)
        self.lateness = timedelta(seconds=lateness_seconds)
        self.worker_id = worker_id
        self._open: dict[tuple[str, datetime], _Window] = {}
        self._revisions: dict[tuple[str, datetime], int] = {}
        self._watermark: datetime | None = None

    def _window_start(self, ts: datetime) -> datetime:
        epoch = ts.timestamp()
        width = self.width.total_seconds()
        return datetime.fromtimestamp(epoch - epoch % width, tz=UTC)

    def add(self, records: Iterable[ScoredRecord]) -> None:
        for record in records:
            ts = record.trace.timestamp
            key = (record.trace.app, self._window_start(ts))
            self._open.setdefault(key, _Window()).add(record)
            if self._watermark is None or ts > self._watermark:
                self._watermark = ts

    def closed(self) -> list[MetricsRecord]:
        """Windows whose end plus lateness the watermark has passed."""
        if self._watermark is None:
            return []
        horizon = self._watermark - self.lateness
        keys = [key for key in self._open if key[1] + self.width <= horizon]
        records = [self._emit(key) for key in sorted(keys, key=lambda k: (k[1], k[0]))]
        self._forget_revisions_before(horizon - 24 * self.width)
        return records

    def drain(self) -> list[MetricsRecord]:
        """Every open window, e.g. when the worker stops."""
        return [self._emit(key) for key in sorted(self._open, key=lambda k: (k[1], k[0]))]

    def _emit(self, key: tuple[str, datetime]) -> MetricsRecord:
        window = self._open.pop(key)
        revision = self._revisions.get(key, -1) + 1
        self._revisions[key] = revision
        app, start = key
        lat = np.percentile(window.latencies, [50, 95, 99]) if window.latencies else [None] * 3
        return MetricsRecord(
            window_start=start,
            window_end=start + self.width,
            app=app,
            worker_id=self.worker_id,
            revision=revision,
            trace_count=window.traces,
            error_count=window.errors,
            error_rate=window.errors / window.traces,
            latency_p50_ms=None if lat[0] is None else float(lat[0]),
            latency_p95_ms=None if lat[1] is None else float(lat[1]),
            latency_p99_ms=None if lat[2] is None else float(lat[2]),
            input_tokens=window.input_tokens,
            output_tokens=window.output_tokens,
            cost_usd=window.cost_usd,
            evaluators={name: t.aggregate() for name, t in sorted(window.evaluators.items())},
        )

    def _forget_revisions_before(self, cutoff: datetime) -> None:
        for key in [k for k in self._revisions if k[1] < cutoff]:
            del self._revisions[key]
