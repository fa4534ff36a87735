"""Tumbling windows in event time, drained per commit as mergeable partial aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.evaluate.totals import WindowTotals
from pipeline.evaluate.windows import WindowAggregator
from schemas import EvaluationResult, MetricsRecord, Trace
from schemas.metrics import LATENCY_BUCKETS_MS

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def record(seconds, *, app="a", latency=100.0, status="OK", score=1.0, error=None, partition=0):
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
    return ScoredRecord(SourcedTrace(trace, "t", partition, 0), [result], 0.01)


def test_records_split_by_window_app_and_source_partition():
    agg = WindowAggregator(window_seconds=60, worker_id="w")
    agg.add([record(1), record(59), record(61), record(2, partition=1), record(3, app="b")])
    windows = agg.drain()
    assert len(agg) == 0 and agg.drain() == []
    keys = [(w.app, w.window_start, w.source_partition, w.trace_count) for w in windows]
    assert keys == [
        ("a", T0, 0, 2),
        ("a", T0, 1, 1),
        ("b", T0, 0, 1),
        ("a", T0 + timedelta(seconds=60), 0, 1),
    ]
    assert all(w.window_end - w.window_start == timedelta(seconds=60) for w in windows)
    assert windows[0].key == f"a|{T0.isoformat()}" == windows[1].key


def test_aggregates_are_exact():
    agg = WindowAggregator(60, "w")
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
    assert window.latency_p50_ms < window.latency_p95_ms < window.latency_p99_ms
    assert len(window.latency_histogram) == len(LATENCY_BUCKETS_MS) + 1
    assert sum(window.latency_histogram) == 102
    # 100 ms (three traces) falls in the "<= 100" bucket; 7,600..10,000 ms in "<= 10000".
    assert window.latency_histogram[1] == 3
    assert window.latency_histogram[LATENCY_BUCKETS_MS.index(10000)] == 25


def test_partial_records_of_one_window_sum_to_the_whole():
    agg = WindowAggregator(60, "w")
    agg.add([record(5), record(6)])
    first = agg.drain()
    agg.add([record(7)])  # the same window, after a commit
    second = agg.drain()
    assert [w.key for w in first] == [w.key for w in second]
    assert sum(w.trace_count for w in first + second) == 3


def test_partial_records_merge_back_into_the_totals_of_all_their_traces():
    """The worker's windows and a reader of the metrics topic (alerts) sum the same
    aggregate: records drained at two commits, merged, hold what adding every trace holds."""
    first = [record(i, latency=50.0 * i, score=(i % 4) / 3) for i in range(1, 30)]
    second = [record(40, status="ERROR", score=0.0), record(41, error="boom"), record(42)]
    agg = WindowAggregator(60, "w")
    agg.add(first)
    records = agg.drain()
    agg.add(second)
    records += agg.drain()
    merged = WindowTotals()
    for partial in records:  # through JSON, as the metrics topic carries them
        merged.add_record(MetricsRecord.model_validate_json(partial.model_dump_json()))
    direct = WindowTotals()
    for scored in first + second:
        direct.add_trace(scored)
    merged_q, direct_q = merged.evaluators.pop("q"), direct.evaluators.pop("q")
    assert merged.cost_usd == pytest.approx(direct.cost_usd)
    merged.cost_usd = direct.cost_usd
    assert merged == direct and merged.traces == 32 and merged.errors == 1
    assert (merged_q.evaluations, merged_q.scored, merged_q.errors) == (32, 31, 1)
    assert merged_q.score_sketch == direct_q.score_sketch
    assert merged_q.pass_weight == direct_q.pass_weight == 31
    assert merged_q.pass_rate == pytest.approx(direct_q.pass_rate)
    assert merged_q.mean_score == pytest.approx(direct_q.mean_score)
