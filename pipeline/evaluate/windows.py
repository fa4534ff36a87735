"""Tumbling-window aggregates per app, in event time (the trace timestamp).

The worker collects scored traces here between two commits and drains the collected windows
into the transaction of that commit: records are partial, mergeable aggregates (see
``schemas.MetricsRecord``), so a replay after a crash neither loses nor doubles a count.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.evaluate.scorer import ScoredRecord
from pipeline.evaluate.sketch import score_bins, sketch_bins
from schemas import EvaluatorAggregate, MetricsRecord, TraceStatus
from schemas.metrics import LATENCY_BUCKETS_MS


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
            score_sketch=score_bins(self.scores),
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

    def histogram(self) -> list[int]:
        counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
        for latency in self.latencies:
            counts[bisect.bisect_left(LATENCY_BUCKETS_MS, latency)] += 1
        return counts


WindowKey = tuple[str, datetime, int]  # app, window start, source partition


class WindowAggregator:
    """Collects scored records into windows until ``drain`` hands them out."""

    def __init__(self, window_seconds: int, worker_id: str) -> None:
        self.width = timedelta(seconds=window_seconds)
        self.worker_id = worker_id
        self._open: dict[WindowKey, _Window] = {}

    def _window_start(self, ts: datetime) -> datetime:
        epoch = ts.timestamp()
        width = self.width.total_seconds()
        return datetime.fromtimestamp(epoch - epoch % width, tz=UTC)

    def add(self, records: Iterable[ScoredRecord]) -> None:
        for record in records:
            key = (
                record.trace.app,
                self._window_start(record.trace.timestamp),
                record.source.partition,
            )
            self._open.setdefault(key, _Window()).add(record)

    def __len__(self) -> int:
        return len(self._open)

    def drain(self) -> list[MetricsRecord]:
        """Every collected window as a record, oldest first; the aggregator is empty after."""
        keys = sorted(self._open, key=lambda k: (k[1], k[0], k[2]))
        return [self._emit(key) for key in keys]

    def _emit(self, key: WindowKey) -> MetricsRecord:
        window = self._open.pop(key)
        app, start, partition = key
        lat = np.percentile(window.latencies, [50, 95, 99]) if window.latencies else [None] * 3
        return MetricsRecord(
            window_start=start,
            window_end=start + self.width,
            app=app,
            worker_id=self.worker_id,
            source_partition=partition,
            trace_count=window.traces,
            error_count=window.errors,
            error_rate=window.errors / window.traces,
            latency_p50_ms=None if lat[0] is None else float(lat[0]),
            latency_p95_ms=None if lat[1] is None else float(lat[1]),
            latency_p99_ms=None if lat[2] is None else float(lat[2]),
            input_tokens=window.input_tokens,
            output_tokens=window.output_tokens,
            cost_usd=window.cost_usd,
            latency_histogram=window.histogram(),
            latency_sketch=sketch_bins(window.latencies),
            evaluators={name: t.aggregate() for name, t in sorted(window.evaluators.items())},
        )
