"""Where a trace is scored: the evaluator runner plus the trace summary every sink shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evaluators import EvaluationRunner, Registry, build_evaluators, discover
from evaluators.config import EvaluatorConfig
from evaluators.pool import DEFAULT_REGISTRY, start_pool
from evaluators.pricing import PriceTable
from schemas import EvaluationResult, ScoredTrace, SourceOffset, Span, Trace
from schemas.scored import TraceBody


@dataclass(frozen=True, slots=True)
class SourcedTrace:
    """A decoded trace and the Kafka position it came from."""

    trace: Trace
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class ScoredRecord:
    """A trace with its results; ``cost_usd`` is the trace's or the price-table estimate."""

    source: SourcedTrace
    results: list[EvaluationResult]
    cost_usd: float | None

    @property
    def trace(self) -> Trace:
        return self.source.trace

    def to_message(self, scored_at: datetime | None = None) -> ScoredTrace:
        trace = self.trace
        return ScoredTrace(
            trace_id=trace.trace_id,
            trace_version=trace_version(trace),
            timestamp=trace.timestamp,
            app=trace.app,
            model=trace.model,
            status=trace.status.value,
            error=trace.error,
            latency_ms=trace.latency_ms,
            input_tokens=trace.input_tokens,
            output_tokens=trace.output_tokens,
            cost_usd=self.cost_usd,
            tags=trace.tags,
            results=self.results,
            source=SourceOffset(
                topic=self.source.topic, partition=self.source.partition, offset=self.source.offset
            ),
            scored_at=scored_at or datetime.now(tz=UTC),
            body=trace_body(trace),
        )


def trace_version(trace: Trace) -> int:
    """The version a producer (or the ingest stage) gave the trace; 1 when none or not valid."""
    version = getattr(trace, "trace_version", None)
    valid = isinstance(version, int) and not isinstance(version, bool) and version >= 1
    return version if valid else 1


def trace_body(trace: Trace) -> TraceBody:
    """The trace's content, as JSON-able values, for the ``traces`` and ``spans`` datasets."""
    expectations = trace.expectations
    return TraceBody(
        inputs=trace.inputs,
        outputs=trace.outputs,
        context=trace.context,
        expectations=expectations.model_dump(mode="json", exclude_none=True)
        if expectations is not None
        else None,
        spans=[_span(span) for span in trace.spans or []],
    )


def _span(span: Span) -> dict[str, Any]:
    """A span as JSON-able values; fields the schema does not name (an app's own) are folded
    into its attributes, so a span's body has a fixed set of keys."""
    extra = span.model_extra or {}
    known = span.model_dump(mode="json", exclude=set(extra))
    known["attributes"] = {**extra, **known["attributes"]}
    return known


class Scorer:
    """Runs the configured evaluators over batches; blocking, so call it from a thread."""

    def __init__(
        self,
        config: EvaluatorConfig,
        registry: Registry | None = None,
        *,
        processes: int = 0,
        allow: list[str] | None = None,
        pool_registry: str = DEFAULT_REGISTRY,
    ) -> None:
        """``processes`` > 0: evaluators whose executor is ``process`` run in that many
        evaluator processes, which build them from ``config`` and ``pool_registry`` (a
        ``module:function`` taking ``allow``; the entry points by default, as ``discover``)."""
        self.registry = registry if registry is not None else discover()
        self.evaluators = build_evaluators(config, self.registry)
        self.pool = start_pool(config, self.evaluators, processes, allow, pool_registry)
        self.runner = EvaluationRunner(self.evaluators, pool=self.pool)
        self.prices = PriceTable(
            {
                name: (p.input_per_million, p.output_per_million)
                for name, p in config.pricing.items()
            }
        )

    @property
    def evaluator_names(self) -> list[str]:
        return [configured.name for configured in self.evaluators]

    def score(self, batch: Sequence[SourcedTrace]) -> list[ScoredRecord]:
        results = self.runner.score([item.trace for item in batch])
        return [
            ScoredRecord(item, item_results, self.prices.estimate(item.trace).cost_usd)
            for item, item_results in zip(batch, results, strict=True)
        ]

    def close(self) -> None:
        self.runner.close()
        if self.pool is not None:
            self.pool.close()
