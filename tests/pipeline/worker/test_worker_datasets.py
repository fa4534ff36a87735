"""A real worker on a real broker writes the traces and spans datasets beside the results:
the three agree (every scored trace has one trace row, its spans have rows), plain pandas and
DuckDB read and join them, a huge field is cut and marked, bad input leaves no row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import orjson
import pandas as pd
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

T0 = datetime(2026, 11, 25, 13, 40, tzinfo=UTC)
HUGE = "x" * 100_000


def trace(i: int) -> dict:
    spans = [
        {
            "span_id": f"t{i}-s{k}",
            "parent_id": f"t{i}-s0" if k else None,
            "name": "retrieve" if k == 1 else "llm",
            "start_time": (T0 + timedelta(minutes=i, seconds=k)).isoformat(),
            "end_time": (T0 + timedelta(minutes=i, seconds=k + 1)).isoformat(),
            "inputs": {"k": k},
            "outputs": f"out {i}.{k}",
        }
        for k in range(i % 4)
    ]
    return {
        "trace_id": f"t{i}",
        "timestamp": (T0 + timedelta(minutes=i)).isoformat(),  # 13:40 .. 14:09: two hours
        "inputs": {"question": f"q{i}"},
        "outputs": HUGE if i == 7 else f"a{i}",
        "context": [f"doc {i}"],
        "status": "ERROR" if i % 5 == 0 else "OK",
        "latency_ms": 10 * i,
        "tags": {"app": "shop", "session_id": f"s{i % 3}"},
        "spans": spans,
    }


def test_worker_writes_traces_and_spans_that_agree_with_the_results(
    kafka_bootstrap, new_topic, tmp_path
):
    topic = new_topic(partitions=2)
    traces = [trace(i) for i in range(30)]
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces] + [b"{not json"])
    config = tmp_path / "two.toml"
    config.write_text("[evaluators.latency]\n[evaluators.error]\n")
    env = worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "data" / "parquet",
        EVALSTREAM_CONFIG=str(config),
        EVALSTREAM_FIELD_LIMIT_BYTES="65536",
        EVALSTREAM_PARQUET_FLUSH_SECONDS="1",
    )
    run_worker(env)

    scored = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, f"{topic}.scored")]
    data = tmp_path / "data"
    results = pd.read_parquet(data / "parquet")
    rows = pd.read_parquet(data / "traces")
    spans = pd.read_parquet(data / "spans")
    assert len(scored) == 30 and len(results) == 60 and set(results.trace_version) == {1}
    assert sorted(rows.trace_id) == sorted({m["trace_id"] for m in scored})
    assert not rows.duplicated(["trace_id", "trace_version"]).any()
    assert len(spans) == sum(i % 4 for i in range(30))
    assert not spans.duplicated(["trace_id", "span_id"]).any()
    assert set(spans.trace_id) <= set(rows.trace_id)
    # Hive partitions by the trace timestamp, the same for a trace and its spans.
    assert set(rows["hour"].astype(str)) == {"13", "14"}
    by_trace = rows.set_index("trace_id")
    for span in spans.itertuples():
        assert str(span.hour) == str(by_trace.loc[span.trace_id, "hour"])
    # The same Kafka position as the result rows: the join key back to the results.
    keys = ["trace_id", "kafka_topic", "kafka_partition", "kafka_offset"]
    assert set(map(tuple, rows[keys].values)) == set(map(tuple, results[keys].values))
    huge = by_trace.loc["t7"]
    assert list(huge.truncated_fields) == ["outputs_json"] and len(huge.outputs_json) <= 65536
    assert orjson.loads(by_trace.loc["t3", "inputs_json"]) == {"question": "q3"}
    assert by_trace.loc["t4", "session_id"] == "s1"

    failing = duckdb.sql(
        f"""SELECT r.trace_id, t.inputs_json, count(s.span_id) AS spans
            FROM read_parquet('{data}/parquet/**/*.parquet', hive_partitioning=true) r
            JOIN read_parquet('{data}/traces/**/*.parquet', hive_partitioning=true) t
              USING (trace_id, trace_version)
            LEFT JOIN read_parquet('{data}/spans/**/*.parquet', hive_partitioning=true) s
              USING (trace_id, trace_version)
            WHERE r.evaluator = 'error' AND NOT r.passed
            GROUP BY ALL ORDER BY r.trace_id"""
    ).fetchall()
    expected = sorted(f"t{i}" for i in range(30) if i % 5 == 0)
    assert [row[0] for row in failing] == expected
    assert dict((row[0], row[2]) for row in failing)["t10"] == 10 % 4
