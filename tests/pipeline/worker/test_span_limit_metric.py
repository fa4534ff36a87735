"""The Prometheus observer counts traces over a span evaluator's cap, by evaluator."""

from __future__ import annotations

from evaluators.builtin.operational import LatencyEvaluator
from evaluators.runner import ConfiguredEvaluator, EvaluationRunner
from evaluators.targeting import SpanTarget
from pipeline import prometheus
from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.worker.observers import PrometheusObserver
from schemas import Trace


def _count(name: str) -> float:
    return prometheus.SPAN_LIMIT_EXCEEDED.labels(name)._value.get()


def test_span_limit_exceeded_is_counted_per_evaluator() -> None:
    spans = [{"span_id": f"s{i}", "span_type": "TOOL"} for i in range(4)]
    over, under = Trace(trace_id="over", spans=spans), Trace(trace_id="under", spans=spans[:2])
    capped = ConfiguredEvaluator(
        LatencyEvaluator(), threshold=1.0, apply_to=SpanTarget(span_type=["TOOL"]), max_spans=2
    )
    runner = EvaluationRunner([capped])
    try:
        per_trace = runner.score([over, under])
    finally:
        runner.close()
    records = [
        ScoredRecord(SourcedTrace(trace, "t", 0, i), results, None)
        for i, (trace, results) in enumerate(zip([over, under], per_trace, strict=True))
    ]
    before = _count("latency")
    errors_before = prometheus.EVALUATOR_ERRORS.labels("latency")._value.get()
    PrometheusObserver().on_scored(records)
    assert _count("latency") == before + 1  # one trace over the cap, not one per span
    assert prometheus.EVALUATOR_ERRORS.labels("latency")._value.get() == errors_before + 1
