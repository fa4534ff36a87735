"""What the stream code reports, and who listens: metrics are observers, never calls inside
the stages (the shape of faust's ``faust/sensors/base.py``: a sensor interface and a
delegate that fans each event out to every sensor).

The stages and the worker call a :class:`StreamObserver`; :class:`PrometheusObserver` turns
the events into the metrics named in :mod:`pipeline.prometheus`; tests can pass a recording
observer, and a deployment could add another (StatsD, OTel metrics) without touching stream
code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from typing import TYPE_CHECKING, Any

from pipeline import prometheus

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
                elif result.latency_ms is not None:
                    child = latency.get(name)
                    if child is None:
                        child = latency[name] = prometheus.EVALUATOR_LATENCY.labels(name)
                    child.observe(result.latency_ms / 1000)
        # Last, so a scrape that sees N traces scored also sees their per-evaluator figures
        # (the /metrics server reads from another thread).
        prometheus.TRACES_SCORED.inc(len(records))

    def on_sink_error(self, sink: str) -> None:
        prometheus.SINK_ERRORS.labels(sink).inc()

    def sink_flush(self, sink: str) -> AbstractContextManager[Any]:
        return prometheus.SINK_FLUSH.labels(sink).time()

    def on_commit(self, seconds: float) -> None:
        prometheus.SINK_FLUSH.labels("kafka").observe(seconds)

    def on_lag(self, committed: dict[Any, int], unprocessed: dict[Any, int]) -> None:
        for gauge, lag in (
            (prometheus.CONSUMER_LAG, committed),
            (prometheus.CONSUMER_LAG_UNPROCESSED, unprocessed),
        ):
            for tp, n in lag.items():
                if n >= 0:  # unknown (never committed yet): no sample rather than a wrong 0
                    gauge.labels(tp.topic, str(tp.partition)).set(n)
