"""Tumbling windows in event time: closing, lateness revisions, aggregate values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.metrics import WindowAggregator
from pipeline.scoring import ScoredRecord, SourcedTrace
from schemas import EvaluationResult, Trace

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def record(seconds: float, *, app="a", latency=100.0, status="OK", score=1.0, error=None):
    trace = Trace(
        trace_id=f"t{seconds}",
        timestamp=T0 + timedelta(seconds=seconds),
        latency_ms=latency,
        status=status,
        usage={"input_tokens": 3, "output_tokens": 2},
        tags={"app": app},
    )
    result = EvaluationResult(
        evaluator="q",
        score=None if error else score,
        passed=None if error else score >= 0.5,
        error=error,
    )
    return ScoredRecord(SourcedTrace(trace, "t", 0, 0), [result], 0.01)


def test_window_closes_after_watermark_passes_end_plus_lateness():
    agg = WindowAggregator(window_seconds=60, lateness_seconds=10, worker_id="w")
    agg.add([record(1), record(30), record(59)])
    assert agg.closed() == []
    agg.add([record(69)])  # watermark 69 - 10 = 59 < 60: still open
    assert agg.closed() == []
    agg.add([record(71)])
    (window,) = agg.closed()
    assert window.window_start == T0 and window.window_end == T0 + timedelta(seconds=60)
    assert window.trace_count == 3 and window.revision == 0 and window.worker_id == "w"


def test_aggregates_are_exact():
    agg = WindowAggregator(60, 0, "w")
    latencies = [100.0 * i for i in range(1, 101)]
    agg.add([record(i * 0.5, latency=lat) for i, lat in enumerate(latencies)])
    agg.add([record(10, status="ERROR", score=0.0), record(11, error="boom")])
    (window,) = agg.drain()
    assert window.trace_count == 102
    assert window.error_count == 1
    assert window.error_rate == 1 / 102
    assert window.input_tokens == 306 and window.output_tokens == 204
    assert abs(window.cost_usd - 1.02) < 1e-9
    q = window.evaluators["q"]
    assert q.evaluations == 102 and q.scored == 101 and q.error_count == 1
    assert q.pass_rate == 100 / 101
    assert window.latency_p99_ms is not None and window.latency_p50_ms < window.latency_p95_ms


def test_late_trace_makes_a_new_revision_so_counts_still_add_up():
    agg = WindowAggregator(60, 0, "w")
    agg.add([record(5), record(65)])
    (first,) = agg.closed()
    agg.add([record(6)])  # late for the window already emitted
    agg.add([record(130)])
    closed = agg.closed()
    late = [w for w in closed if w.window_start == T0]
    assert len(late) == 1 and late[0].revision == 1 and late[0].trace_count == 1
    total = (
        first.trace_count
        + sum(w.trace_count for w in closed)
        + sum(w.trace_count for w in agg.drain())
    )
    assert total == 4


def test_windows_are_per_app_and_keyed_for_compaction():
    agg = WindowAggregator(60, 0, "w")
    agg.add([record(1, app="x"), record(2, app="y"), record(3, app="y")])
    windows = {w.app: w for w in agg.drain()}
    assert windows["x"].trace_count == 1 and windows["y"].trace_count == 2
    assert windows["y"].key == f"y|{T0.isoformat()}"
