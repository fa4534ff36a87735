"""What the stream code reports, and who listens: metrics are observers, never calls inside
the stages (the shape of faust's ``faust/sensors/base.py``: a sensor interface and a
delegate that fans each event out to every sensor).

The stages and the worker call a :class:`StreamObserver`; :class:`PrometheusObserver` turns
the events into the metrics named in :mod:`pipeline.prometheus`; tests can pass a recording
observer, and a deployment could add another (StatsD, OTel metrics) without touching stream
code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import TYPE_CHECKING, Any

from evaluators.builtin.cascade import TIERS
from pipeline import prometheus
from schemas import SPAN_LIMIT_EXCEEDED

if TYPE_CHECKING:
    from pipeline.evaluate.scorer import ScoredRecord


class StreamObserver:
    """Every event the worker reports; each method does nothing unless overridden."""

    def on_consumed(self, count: int) -> None:
        """``count`` input messages were handed to their sinks."""

    def on_dead_letter(self, error_type: str) -> None:
        """A message could not be used and becomes a dead letter."""

    def on_scored(self, records: Sequence[ScoredRecord]) -> None:
        """Records were scored and sent."""

    def on_sink_error(self, sink: str) -> None:
        """A write to ``sink`` (parquet, otel) failed (and is retried or given up)."""

    def on_results_lost(self, sink: str, reason: str, results: int) -> None:
        """A best-effort sink (otel) gave up on ``results`` results, for ``reason``."""

    def sink_flush(self, sink: str) -> AbstractContextManager[Any]:
        """Times one flush of ``sink``."""
        return nullcontext()

    def on_commit(self, seconds: float) -> None:
        """A commit (windows, sends, offsets) took ``seconds``."""

    def on_lag(self, committed: dict[Any, int], unprocessed: dict[Any, int]) -> None:
        """Per partition, messages past the committed offset and past the processed one
        (-1: unknown)."""


class ObserverGroup(StreamObserver):
    """Fans every event out to several observers (faust's ``SensorDelegate``)."""

    def __init__(self, observers: Iterable[StreamObserver]) -> None:
        self.observers = list(observers)

    def on_consumed(self, count: int) -> None:
        for observer in self.observers:
            observer.on_consumed(count)

    def on_dead_letter(self, error_type: str) -> None:
        for observer in self.observers:
            observer.on_dead_letter(error_type)

    def on_scored(self, records: Sequence[ScoredRecord]) -> None:
        for observer in self.observers:
            observer.on_scored(records)

    def on_sink_error(self, sink: str) -> None:
        for observer in self.observers:
            observer.on_sink_error(sink)

    def on_results_lost(self, sink: str, reason: str, results: int) -> None:
        for observer in self.observers:
            observer.on_results_lost(sink, reason, results)

    def sink_flush(self, sink: str) -> AbstractContextManager[Any]:
        stack = ExitStack()
        for observer in self.observers:
            stack.enter_context(observer.sink_flush(sink))
        return stack

    def on_commit(self, seconds: float) -> None:
        for observer in self.observers:
            observer.on_commit(seconds)

    def on_lag(self, committed: dict[Any, int], unprocessed: dict[Any, int]) -> None:
        for observer in self.observers:
            observer.on_lag(committed, unprocessed)


class PrometheusObserver(StreamObserver):
    """The worker's Prometheus metrics (names and labels: :mod:`pipeline.prometheus`)."""

    def on_consumed(self, count: int) -> None:
        prometheus.MESSAGES_CONSUMED.inc(count)

    def on_dead_letter(self, error_type: str) -> None:
        prometheus.DEAD_LETTERS.labels(error_type).inc()

    def __init__(self) -> None:
        # per-evaluator children, looked up once: ``labels()`` takes a lock and hashes the
        # label values, per result (issue 20)
        self._errors: dict[str, Any] = {}
        self._latency: dict[str, Any] = {}
        self._lag_labels: dict[str, set[tuple[str, str]]] = {}  # per gauge: samples shown

    def on_scored(self, records: Sequence[ScoredRecord]) -> None:
        errors, latency = self._errors, self._latency
        for record in records:
            for result in record.results:
                name = result.evaluator
                if result.error is not None:
                    child = errors.get(name)
                    if child is None:
                        child = errors[name] = prometheus.EVALUATOR_ERRORS.labels(name)
                    child.inc()
                    if result.label == SPAN_LIMIT_EXCEEDED:
                        prometheus.SPAN_LIMIT_EXCEEDED.labels(name).inc()
                elif result.latency_ms is not None:
                    child = latency.get(name)
                    if child is None:
                        child = latency[name] = prometheus.EVALUATOR_LATENCY.labels(name)
                    child.observe(result.latency_ms / 1000)
                if result.metadata:
                    _count_tier(name, result.metadata)
        # Last, so a scrape that sees N traces scored also sees their per-evaluator figures
        # (the /metrics server reads from another thread).
        prometheus.TRACES_SCORED.inc(len(records))

    def on_sink_error(self, sink: str) -> None:
        prometheus.SINK_ERRORS.labels(sink).inc()

    def on_results_lost(self, sink: str, reason: str, results: int) -> None:
        prometheus.OTEL_RESULTS_LOST.labels(reason).inc(results)
        prometheus.SINK_ERRORS.labels(sink).inc()

    def sink_flush(self, sink: str) -> AbstractContextManager[Any]:
        return prometheus.SINK_FLUSH.labels(sink).time()

    def on_commit(self, seconds: float) -> None:
        prometheus.SINK_FLUSH.labels("kafka").observe(seconds)

    def on_lag(self, committed: dict[Any, int], unprocessed: dict[Any, int]) -> None:
        """Set the lag of the partitions reported; drop the samples of partitions this worker
        no longer owns, so after a rebalance it does not keep exporting their last lag (an
        autoscaler summing the gauge would count a moved partition twice)."""
        for gauge, lag in (
            (prometheus.CONSUMER_LAG, committed),
            (prometheus.CONSUMER_LAG_UNPROCESSED, unprocessed),
        ):
            shown = set()
            for tp, n in lag.items():
                if n >= 0:  # unknown (never committed yet): no sample rather than a wrong 0
                    labels = (tp.topic, str(tp.partition))
                    gauge.labels(*labels).set(n)
                    shown.add(labels)
            previous = self._lag_labels.get(gauge._name, set())
            for labels in previous - shown:
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)
            self._lag_labels[gauge._name] = shown


def _count_tier(evaluator: str, metadata: dict[str, Any]) -> None:
    """The cascade's figures from a result's metadata (``evaluators/builtin/cascade.py``):
    which tier decided it, and whether the judge was wanted but its budget spent. Any
    evaluator may write ``tier``; values other than the cascade's own are counted as
    ``other`` so a plugin cannot grow the label set without bound."""
    tier = metadata.get("tier")
    if tier is not None:
        label = tier if isinstance(tier, str) and tier in TIERS else "other"
        prometheus.RESULTS_BY_TIER.labels(evaluator, label).inc()
    if metadata.get("budget_exhausted") is True:
        prometheus.JUDGE_BUDGET_EXHAUSTED.labels(evaluator).inc()
