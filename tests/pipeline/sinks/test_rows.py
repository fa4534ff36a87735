"""Row building of the traces and spans datasets (and the results' trace_version): JSON
columns, truncation marked in the row, spans flattened; the sink writes the three datasets
under one file name per offset range, and the crash clean-up removes them together."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import duckdb
import orjson
import pandas as pd
import pyarrow.parquet as pq

from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.redaction import Redactor
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.parquet import ParquetSink, remove_uncommitted
from pipeline.sinks.rows import add_result_columns, result_rows, span_rows, trace_rows
from schemas import (
    EvaluationResult,
    Trace,
    arrow_schema,
    spans_arrow_schema,
    traces_arrow_schema,
)
from schemas.datasets import SPANS_COLUMNS, TRACES_COLUMNS

T0 = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)


def message(trace: dict, offset: int = 3, results: int = 2) -> dict:
    """A scored-topic message as the Parquet stage reads it (JSON round trip)."""
    model = Trace.model_validate({"timestamp": T0, **trace})
    evaluated = [EvaluationResult(evaluator=f"e{i}", score=1.0) for i in range(results)]
    record = ScoredRecord(SourcedTrace(model, "traces", 2, offset), evaluated, 0.5)
    return orjson.loads(orjson.dumps(record.to_message().model_dump(mode="json")))


RICH = {
    "trace_id": "t1",
    "inputs": {"question": "Where is Ümlaut?"},
    "outputs": "There.",
    "context": ["doc one", "doc two"],
    "expectations": {"expected_facts": ["f"]},
    "tags": {"app": "shop", "session_id": "s9", "user_id": "u1", "env": "prod"},
    "model": "m",
    "usage": {"input_tokens": 4, "output_tokens": 2},
    "spans": [
        {"span_id": "root", "name": "agent", "start_time": "2026-11-25T14:05:00Z"},
        {
            "parent_id": "root",
            "name": "llm",
            "span_type": "LLM",
            "status": "ERROR",
            "inputs": [{"role": "user"}],
            "outputs": "x",
            "attributes": {"temperature": 0.2},
            "vendor_field": {"k": 1},
        },
    ],
}


def test_trace_row_has_json_columns_and_tags_split_out():
    (row,) = trace_rows(message(RICH))
    assert set(row) == {name for name, _, _ in TRACES_COLUMNS}
    assert orjson.loads(row["inputs_json"]) == {"question": "Where is Ümlaut?"}
    assert orjson.loads(row["outputs_json"]) == "There."
    assert orjson.loads(row["context_json"]) == ["doc one", "doc two"]
    assert orjson.loads(row["expectations_json"]) == {"expected_facts": ["f"]}
    assert orjson.loads(row["tags_json"])["env"] == "prod"
    assert (row["session_id"], row["user_id"], row["app"]) == ("s9", "u1", "shop")
    assert (row["input_tokens"], row["cost_usd"], row["trace_version"]) == (4, 0.5, 1)
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == ("traces", 2, 3)
    assert row["truncated_fields"] == [] and row["timestamp"] == T0


def test_spans_are_flattened_with_ids_parents_and_extra_fields_in_attributes():
    rows = list(span_rows(message(RICH)))
    assert {name for name, _, _ in SPANS_COLUMNS} == set(rows[0])
    assert [r["span_id"] for r in rows] == ["root", "span-1"]  # a missing id: its index
    assert rows[1]["parent_id"] == "root" and rows[1]["status"] == "ERROR"
    assert rows[0]["start_time"] == datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
    assert orjson.loads(rows[1]["attributes_json"]) == {
        "temperature": 0.2,
        "vendor_field": {"k": 1},
    }
    assert orjson.loads(rows[1]["inputs_json"]) == [{"role": "user"}]
    assert rows[0]["inputs_json"] is None and rows[0]["attributes_json"] is None
    assert all(r["trace_timestamp"] == T0 and r["trace_id"] == "t1" for r in rows)


def test_huge_fields_are_cut_and_named_in_truncated_fields():
    huge = "é" * 40_000  # 80,000 UTF-8 bytes: over the 64 KB default
    msg = message({**RICH, "outputs": huge, "spans": [{"span_id": "s", "inputs": huge}]})
    (row,) = trace_rows(msg)
    assert row["truncated_fields"] == ["outputs_json"]
    assert len(row["outputs_json"].encode()) <= 64 * 1024
    assert row["outputs_json"].startswith('"éé')  # cut on a character boundary
    (span,) = span_rows(msg, limit=1024)
    assert span["truncated_fields"] == ["inputs_json"]
    assert len(span["inputs_json"].encode()) <= 1024


def test_results_carry_the_trace_version_and_no_body_means_no_trace_rows():
    msg = message(RICH)
    msg["trace_version"] = 3
    assert [r["trace_version"] for r in result_rows(msg)] == [3, 3]
    assert next(trace_rows(msg))["trace_version"] == 3
    msg["body"] = None
    assert list(trace_rows(msg)) == [] and list(span_rows(msg)) == []


def test_result_columns_are_the_result_rows_column_by_column():
    messages = [message(RICH), message(RICH, results=0), message({"trace_id": "bare"}, 7, 5)]
    rich = messages[0]
    rich["trace_version"] = 2
    rich["results"][0].update(
        metadata={"k": [1, 2]}, span_id="s1", source="model", label="ok", rationale="why"
    )
    del rich["results"][1]["evaluator_version"]  # defaults, as the rows have them
    columns: dict[str, list] = defaultdict(list)
    counts = [add_result_columns(m, columns) for m in messages]
    rows = [row for m in messages for row in result_rows(m)]
    assert counts == [2, 0, 5] and len(rows) == 7
    names = arrow_schema().names
    assert set(columns) == set(names)
    assert {name: columns[name] for name in names} == {
        name: [row[name] for row in rows] for name in names
    }


def test_sink_writes_three_datasets_readable_by_pandas_and_duckdb(tmp_path):
    root = tmp_path / "parquet"
    sink = ParquetSink(root, store_traces=True)
    for offset in (10, 11, 12):
        trace = {**RICH, "trace_id": f"t{offset}"}
        sink.add(message(trace, offset), "scored", 0, offset)
    sink.flush()
    name = "date=2026-11-25/hour=14/scored-p0-o000000000010-000000000012.parquet"
    for dataset in ("parquet", "traces", "spans"):
        assert (tmp_path / dataset / name).is_file()
    assert pq.read_schema(tmp_path / "traces" / name).equals(traces_arrow_schema())
    assert pq.read_schema(tmp_path / "spans" / name).equals(spans_arrow_schema())
    results = pd.read_parquet(root)
    traces = pd.read_parquet(tmp_path / "traces")
    assert len(results) == 6 and sorted(traces.trace_id) == ["t10", "t11", "t12"]
    assert set(results.trace_version) == {1}
    joined = duckdb.sql(
        f"""SELECT t.trace_id, count(*) AS spans
            FROM read_parquet('{tmp_path}/traces/**/*.parquet', hive_partitioning=true) t
            JOIN read_parquet('{tmp_path}/spans/**/*.parquet', hive_partitioning=true) s
              USING (trace_id, trace_version)
            GROUP BY 1 ORDER BY 1"""
    ).fetchall()
    assert joined == [("t10", 2), ("t11", 2), ("t12", 2)]
    removed = remove_uncommitted(root, "scored", 0, committed=10)
    assert len(removed) == 3 and not list(tmp_path.rglob("*.parquet"))


def test_without_store_traces_only_results_are_written(tmp_path):
    sink = ParquetSink(tmp_path / "parquet")
    sink.add(message(RICH), "scored", 0, 1)
    sink.flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parquet"]


def test_a_huge_field_is_cut_in_the_scored_message_already_and_marked_in_the_row():
    huge = {"blob": "y" * 300_000}
    model = Trace.model_validate(
        {
            "trace_id": "big",
            "timestamp": T0,
            "inputs": huge,
            "spans": [{"span_id": "s", "outputs": huge, "vendor": huge}],
        }
    )
    record = ScoredRecord(SourcedTrace(model, "traces", 0, 1), [], None)
    encoder = RecordEncoder(Redactor.from_settings("none"), field_limit_bytes=2048)
    value = encoder.scored(record)
    assert len(value) < 10_000  # three 300 KB values, each cut to 2 KB
    msg = orjson.loads(value)
    (row,) = trace_rows(msg, limit=2048)
    assert row["truncated_fields"] == ["inputs_json"]
    assert row["inputs_json"].startswith('{"blob":"yyy') and len(row["inputs_json"]) <= 2048
    (span,) = span_rows(msg, limit=2048)
    assert span["truncated_fields"] == ["outputs_json", "attributes_json"]
    assert span["attributes_json"].startswith('{"vendor":{"blob":"yy')


def test_trace_version_comes_from_the_trace_and_a_bad_one_reads_as_1():
    assert message({**RICH, "trace_version": 3})["trace_version"] == 3
    for bad in (0, "2", None, True):
        version = message({**RICH, "trace_version": bad})["trace_version"]
        assert version == 1 and type(version) is int
