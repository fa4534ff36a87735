"""Tumbling-window aggregates per app, in event time (the trace timestamp).

The worker collects scored traces here between two commits and drains the collected windows
into the transaction of that commit: records are partial, mergeable aggregates (see
``schemas.MetricsRecord``), so a replay after a crash neither loses nor doubles a count.
What is summed, and how partial records merge again, is :mod:`pipeline.evaluate.totals`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from pipeline.evaluate.scorer import ScoredRecord
from pipeline.evaluate.totals import WindowTotals
from schemas import MetricsRecord


@dataclass
class _Window:
    """The totals of one window and source partition, and its latencies: a partial record
    carries their exact percentiles besides the mergeable sketch."""

    totals: WindowTotals = field(default_factory=WindowTotals)
    latencies: list[float] = field(default_factory=list)

    def add(self, record: ScoredRecord) -> None:
        self.totals.add_trace(record)
        if record.trace.latency_ms is not None:
            self.latencies.append(record.trace.latency_ms)


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
        totals = window.totals
        app, start, partition = key
        lat = np.percentile(window.latencies, [50, 95, 99]) if window.latencies else [None] * 3
        return MetricsRecord(
            window_start=start,
            window_end=start + self.width,
            app=app,
            worker_id=self.worker_id,
            source_partition=partition,
            trace_count=totals.traces,
            error_count=totals.errors,
            error_rate=totals.errors / totals.traces,
            latency_p50_ms=None if lat[0] is None else float(lat[0]),
            latency_p95_ms=None if lat[1] is None else float(lat[1]),
            latency_p99_ms=None if lat[2] is None else float(lat[2]),
            input_tokens=totals.input_tokens,
            output_tokens=totals.output_tokens,
            cost_usd=totals.cost_usd,
            latency_histogram=totals.histogram,
            latency_sketch=totals.sketch,
            evaluators=totals.evaluator_aggregates(),
        )
