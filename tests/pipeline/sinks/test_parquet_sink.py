"""The Parquet sink: partitioning, names by offset range, atomic replace, plain readability."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.exceptions import SinkError
from pipeline.sinks.parquet import ParquetSink, file_name, remove_uncommitted
from schemas import PARQUET_COLUMNS, EvaluationResult, Trace, arrow_schema


def add(sink: ParquetSink, *records: ScoredRecord) -> None:
    """Feed scored records the way the worker does: as scored-topic messages."""
    for r in records:
        message = orjson.loads(orjson.dumps(r.to_message().model_dump(mode="json")))
        sink.add(message, "scored", r.source.partition, r.source.offset)


def record(offset: int, hour: int, partition: int = 0, evaluators=("a", "b")) -> ScoredRecord:
    trace = Trace(
        trace_id=f"t{offset}",
        timestamp=datetime(2026, 11, 25, hour, 30, tzinfo=UTC),
        latency_ms=100.0 + offset,
        usage={"input_tokens": 10, "output_tokens": 5},
        tags={"app": "shop"},
    )
    results = [
        EvaluationResult(evaluator=name, score=0.5, passed=True, metadata={"k": offset})
        for name in evaluators
    ]
    return ScoredRecord(SourcedTrace(trace, "traces", partition, offset), results, 0.001)


def test_rows_land_in_hive_partitions_named_by_offset_range(tmp_path):
    sink = ParquetSink(tmp_path, flush_rows=1000, flush_seconds=60)
    add(sink, record(10, 13), record(11, 14), record(12, 13), record(5, 13, partition=1))
    assert sink.buffered_rows == 8
    written = sorted(p.relative_to(tmp_path).as_posix() for p in sink.flush())
    assert written == [
        "date=2026-11-25/hour=13/scored-p0-o000000000010-000000000012.parquet",
        "date=2026-11-25/hour=13/scored-p1-o000000000005-000000000005.parquet",
        "date=2026-11-25/hour=14/scored-p0-o000000000010-000000000012.parquet",
    ]
    assert sink.buffered_rows == 0
    assert not list(tmp_path.rglob("*.tmp"))
    frame = pd.read_parquet(tmp_path)
    assert len(frame) == 8
    assert set(frame["hour"].astype(str)) == {"13", "14"}
    row = frame[(frame.trace_id == "t11") & (frame.evaluator == "b")].iloc[0]
    assert row.latency_ms == 111.0 and row.input_tokens == 10 and row.app == "shop"
    assert row.kafka_offset == 11 and row.kafka_topic == "traces"
    assert row.metadata_json == '{"k":11}'


def test_file_schema_is_the_published_contract(tmp_path):
    sink = ParquetSink(tmp_path)
    add(sink, record(1, 0))
    (path,) = sink.flush()
    schema = pq.read_schema(path)
    assert schema.names == [name for name, _, _ in PARQUET_COLUMNS]
    assert schema.metadata[b"evalstream.schema_version"] == b"1"


def test_replaying_the_same_offsets_keeps_one_file_instead_of_duplicating(tmp_path):
    for _ in range(2):
        sink = ParquetSink(tmp_path)
        add(sink, *(record(o, 9) for o in range(3)))
        sink.flush()
    assert len(list(tmp_path.rglob("*.parquet"))) == 1
    assert len(pd.read_parquet(tmp_path)) == 6


def test_should_flush_by_rows_and_by_time(tmp_path, monkeypatch):
    sink = ParquetSink(tmp_path, flush_rows=4, flush_seconds=5)
    assert not sink.should_flush()
    add(sink, record(0, 1))
    assert not sink.should_flush()
    add(sink, record(1, 1))
    assert sink.should_flush()
    sink.flush()
    add(sink, record(2, 1))
    clock = sink._last_flush
    monkeypatch.setattr("pipeline.sinks.parquet.time.monotonic", lambda: clock + 6)
    assert sink.should_flush()


def test_unwritable_directory_raises_sink_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    sink = ParquetSink(blocker)
    add(sink, record(0, 1))
    with pytest.raises(SinkError, match="cannot write"):
        sink.flush()


def test_uncommitted_files_are_removed_on_takeover(tmp_path):
    sink = ParquetSink(tmp_path)
    add(sink, record(0, 1), record(1, 2))
    sink.flush()
    add(sink, record(2, 1), record(3, 1))
    sink.flush()
    add(sink, record(0, 1, partition=1))
    sink.flush()
    removed = remove_uncommitted(tmp_path, "scored", 0, committed=2)
    assert [p.name for p in removed] == ["scored-p0-o000000000002-000000000003.parquet"]
    left = sorted(p.name for p in tmp_path.rglob("*.parquet"))
    assert left == [
        "scored-p0-o000000000000-000000000001.parquet",
        "scored-p0-o000000000000-000000000001.parquet",
        "scored-p1-o000000000000-000000000000.parquet",
    ]


def test_file_name_is_sortable_by_offset():
    assert file_name("t", 2, 9, 100) < file_name("t", 2, 10, 11)


def test_messages_without_results_flush_as_empty_files_instead_of_failing(tmp_path):
    """A scored trace (or scored session) with no results: no rows, but the flush still
    writes its offsets' file (pyarrow refused the empty column mapping and the worker
    crashed: a session stage with no session evaluators)."""
    sink = ParquetSink(tmp_path, flush_rows=1000, flush_seconds=60)
    add(sink, record(3, 13, evaluators=()))
    (written,) = sink.flush()
    assert written.name == "scored-p0-o000000000003-000000000003.parquet"
    table = pq.read_table(written)
    assert table.num_rows == 0 and table.schema == arrow_schema()
