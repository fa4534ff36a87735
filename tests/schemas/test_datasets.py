"""The column contract of the ``traces`` and ``spans`` datasets, and its size limit."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import SPANS_COLUMNS, TRACES_COLUMNS, SpanRow, TraceRow
from schemas.datasets import clip_field, spans_arrow_schema, traces_arrow_schema

T0 = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)


def test_columns_cover_what_the_issue_lists():
    traces = [c[0] for c in TRACES_COLUMNS]
    for name in ("trace_id", "trace_version", "timestamp", "app", "session_id", "user_id",
                 "model", "status", "error", "latency_ms", "input_tokens", "output_tokens",
                 "cost_usd", "inputs_json", "outputs_json", "context_json",
                 "expectations_json", "tags_json", "truncated_fields", "kafka_topic",
                 "kafka_partition", "kafka_offset", "schema_version"):  # fmt: skip
        assert name in traces
    spans = [c[0] for c in SPANS_COLUMNS]
    for name in ("trace_id", "span_id", "parent_id", "name", "span_type", "start_time",
                 "end_time", "status", "inputs_json", "outputs_json", "attributes_json",
                 "truncated_fields", "schema_version"):  # fmt: skip
        assert name in spans
    assert traces[-1] == spans[-1] == "schema_version"
    assert dict((n, k) for n, k, _ in TRACES_COLUMNS)["kafka_partition"] == "int32"
    assert dict((n, null) for n, _, null in TRACES_COLUMNS)["session_id"] is True
    assert dict((n, null) for n, _, null in TRACES_COLUMNS)["trace_id"] is False


@pytest.mark.parametrize(
    ("model", "schema"), [(TraceRow, traces_arrow_schema()), (SpanRow, spans_arrow_schema())]
)
def test_arrow_schema_follows_the_row_model(model, schema):
    assert schema.names == [*list(model.model_fields)[1:], "schema_version"]
    assert schema.metadata[b"evalstream.schema_version"] == b"1"


def test_rows_round_trip_through_parquet_for_pandas_and_duckdb(tmp_path):
    row = TraceRow(
        trace_id="t1", timestamp=T0, app="bot", status="OK", session_id="s1",
        inputs_json='{"question": "q"}', kafka_topic="traces", kafka_partition=2,
        kafka_offset=9, truncated_fields=["outputs_json"],
    )  # fmt: skip
    table = pa.Table.from_pylist([row.model_dump()], traces_arrow_schema())
    path = tmp_path / "date=2026-11-25" / "hour=14"
    path.mkdir(parents=True)
    pq.write_table(table, path / "traces-p2-o9-9.parquet")
    frame = pd.read_parquet(tmp_path)
    assert frame.loc[0, "trace_id"] == "t1" and list(frame.loc[0, "truncated_fields"]) == [
        "outputs_json"
    ]
    assert str(frame.loc[0, "hour"]) == "14"
    got = duckdb.sql(
        f"SELECT session_id, trace_version, kafka_partition FROM "
        f"read_parquet('{tmp_path}/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert got == [("s1", 1, 2)]


def test_clip_field_cuts_at_a_character_boundary():
    assert clip_field(None) == (None, False)
    assert clip_field("short", 10) == ("short", False)
    text, cut = clip_field("é" * 10, 5)  # 2 bytes each: 2 whole characters fit
    assert (text, cut) == ("éé", True)
    assert len(clip_field("x" * 70_000)[0].encode()) == 64 * 1024
