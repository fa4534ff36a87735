"""The Delta sink through the worker's real stages (pipeline.worker.testing): rows land in
Delta tables that deltalake and DuckDB read without our code, and a replay of what a crashed
worker had already committed to Delta (but not to Kafka) adds nothing, however it is cut."""

from __future__ import annotations

import duckdb
import orjson
import pandas as pd
import pytest
from deltalake import DeltaTable

from evaluators.config import parse_config
from pipeline.evaluate.scorer import Scorer
from pipeline.exceptions import SinkError
from pipeline.settings import load_settings
from pipeline.sinks.delta import DeltaSink, app_id
from pipeline.sinks.delta_table import open_table
from pipeline.worker.testing import InputMessage, StageHarness


def trace(i: int) -> bytes:
    hour = 13 + i % 2
    spans = [{"span_id": f"t{i}-s{k}", "name": "llm"} for k in range(i % 3)]
    body = {
        "trace_id": f"t-{i}",
        "timestamp": f"2026-11-25T{hour}:0{i % 10}:00Z",
        "latency_ms": 10 * i,
        "inputs": {"q": i},
        "spans": spans,
    }
    return orjson.dumps(body)


@pytest.fixture
def scorer():
    scorer = Scorer(parse_config({"evaluators": {"latency": {}, "error": {}}}))
    yield scorer
    scorer.close()


def harness(tmp_path, scorer, **settings) -> StageHarness:
    config = load_settings(parquet_dir=tmp_path / "data" / "parquet", table_format="delta",
                           **settings)  # fmt: skip
    return StageHarness(config, scorer)


def inputs(first: int, last: int) -> list[InputMessage]:
    return [InputMessage("traces", i % 2, i, trace(i)) for i in range(first, last)]


def test_results_traces_and_spans_are_delta_tables(tmp_path, scorer):
    h = harness(tmp_path, scorer)
    h.score(inputs(0, 10))
    durable = h.write_parquet()
    data = tmp_path / "data"
    results = DeltaTable(str(data / "parquet")).to_pandas()
    traces = DeltaTable(str(data / "traces")).to_pandas()
    spans = DeltaTable(str(data / "spans")).to_pandas()
    assert len(results) == 20 and set(results.evaluator) == {"latency", "error"}
    assert sorted(traces.trace_id) == sorted(f"t-{i}" for i in range(10))
    assert len(spans) == sum(i % 3 for i in range(10))
    assert set(zip(results.date, results.hour, strict=True)) == {
        ("2026-11-25", "13"), ("2026-11-25", "14")
    }  # fmt: skip
    assert DeltaTable(str(data / "parquet")).metadata().partition_columns == ["date", "hour"]
    # one commit per table, recording each scored partition's last offset
    table = DeltaTable(str(data / "parquet"))
    assert table.version() == 1
    assert [table.transaction_version(app_id("scored-traces", p)) for p in (0, 1)] == [4, 4]
    assert sorted(durable.values()) == [5, 5] and len(h.stream.acked) == 10
    # DuckDB without our code (over deltalake's pyarrow dataset: no delta extension offline)
    dataset = DeltaTable(str(data / "parquet")).to_pyarrow_dataset()  # noqa: F841
    count = duckdb.sql("SELECT count(*) FROM dataset WHERE evaluator = 'latency'").fetchall()
    assert count == [(10,)]


def test_a_replay_of_committed_offsets_adds_no_row(tmp_path, scorer):
    """A worker committed offsets 0-9 of each scored partition to Delta and died before the
    Kafka commit: the next one reads them again (cut at other offsets) plus new ones."""
    first = harness(tmp_path, scorer)
    first.score(inputs(0, 20))
    first.write_parquet()

    replay = harness(tmp_path, scorer)
    replay.score(inputs(0, 13))
    replay.write_parquet()  # scored offsets 0-6 / 0-5: all in the table already
    replay.score(inputs(13, 30))
    replay.write_parquet()  # 7-14: 7-9 already there, 10-14 new

    data = tmp_path / "data"
    results = DeltaTable(str(data / "parquet")).to_pandas()
    assert len(results) == 60
    assert not results.duplicated(["trace_id", "evaluator"]).any()
    traces = DeltaTable(str(data / "traces")).to_pandas()
    assert sorted(traces.trace_id) == sorted(f"t-{i}" for i in range(30))
    spans = DeltaTable(str(data / "spans")).to_pandas()
    assert len(spans) == sum(i % 3 for i in range(30))
    assert not spans.duplicated(["trace_id", "span_id"]).any()
    skipped = replay.parquet.sink.rows_skipped  # rows of the first 20 traces
    assert skipped == {"results": 40, "traces": 20, "spans": sum(i % 3 for i in range(20))}
    table = DeltaTable(str(data / "parquet"))
    assert [table.transaction_version(app_id("scored-traces", p)) for p in (0, 1)] == [14, 14]
    assert table.version() == 2  # the all-duplicate flush committed nothing


class StaleSink(DeltaSink):
    """Opens the table at the version it saw before another writer committed: a zombie."""

    def __init__(self, *args, snapshot_version: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_version = snapshot_version

    def _open_or_create(self, table):
        delta = open_table(table.uri)
        delta.load_as_version(self.snapshot_version)
        return delta


def scored(i: int) -> dict:
    return {
        "trace_id": f"t-{i}",
        "timestamp": "2026-11-25T10:00:00Z",
        "app": "a",
        "status": "OK",
        "source": {"topic": "traces", "partition": 0, "offset": i},
        "results": [{"evaluator": "latency", "score": 1.0, "passed": True}],
    }


def test_a_zombie_commit_of_the_same_partition_is_refused(tmp_path):
    root = tmp_path / "parquet"
    owner = DeltaSink(root)
    owner.add(scored(0), "scored", 0, 0)
    owner.flush()  # version 1: creates the table and holds offset 0
    zombie = StaleSink(root, snapshot_version=1)
    for i in range(1, 4):
        owner.add(scored(i), "scored", 0, i)
        zombie.add(scored(i), "scored", 0, i)
    owner.flush()  # version 2: offsets 1-3
    with pytest.raises(SinkError, match="Concurrent transaction"):
        zombie.flush()  # from version 1, it cannot see offsets 1-3 are there
    assert len(DeltaTable(str(root)).to_pandas()) == 4


def test_a_parquet_directory_is_not_taken_for_a_delta_table(tmp_path):
    hour = tmp_path / "parquet" / "date=2026-11-25" / "hour=10"
    hour.mkdir(parents=True)
    (hour / "scored-p0-o000000000000-000000000009.parquet").write_bytes(b"")
    with pytest.raises(SinkError, match="holds a Parquet dataset"):
        DeltaSink(tmp_path / "parquet")


def test_a_newer_contract_adds_its_columns_to_an_existing_table(tmp_path):
    """A table an older worker created without a column (here: without ``model``) takes the
    newer rows; the old rows read the new column as null."""
    from dataclasses import replace

    root = tmp_path / "parquet"
    older = DeltaSink(root)
    schema = older._tables[0].schema
    older._tables[0] = replace(
        older._tables[0], schema=schema.remove(schema.get_field_index("model"))
    )
    older.add(scored(0) | {"model": "old-model"}, "scored", 0, 0)
    older.flush()
    assert "model" not in DeltaTable(str(root)).to_pandas().columns

    sink = DeltaSink(root)
    sink.add(scored(1) | {"model": "gpt-4o"}, "scored", 0, 1)
    sink.flush()
    frame = DeltaTable(str(root)).to_pandas().set_index("trace_id")
    assert frame.loc["t-1", "model"] == "gpt-4o" and pd.isna(frame.loc["t-0", "model"])


def test_a_delta_table_is_not_written_with_parquet_files(tmp_path, scorer):
    h = harness(tmp_path, scorer)
    h.score(inputs(0, 2))
    h.write_parquet()
    config = load_settings(parquet_dir=tmp_path / "data" / "parquet")  # table_format=parquet
    with pytest.raises(SinkError, match="is a Delta table: set EVALSTREAM_TABLE_FORMAT=delta"):
        StageHarness(config, scorer)


def killed_first_commit(root) -> None:
    """What a writer killed in its first commit leaves (delta-rs writes the commit to a
    temporary file in ``_delta_log`` and renames it to ``00000000000000000000.json``), and
    what another writer sees while a first commit is in progress."""
    log = root / "_delta_log"
    log.mkdir(parents=True)
    (log / "_commit_0b7e3c2a-1f7a-4a38-9d1f-6a1e2f3c4d5e.json.tmp").write_text("{}\n")


def test_a_log_without_a_commit_gets_its_first_commit_instead_of_failing(tmp_path):
    root = tmp_path / "parquet"
    killed_first_commit(root)
    with pytest.raises(Exception, match="No files in log segment"):
        DeltaTable(str(root))  # what opening it, as the sink once did, raises
    sink = DeltaSink(root)
    sink.add(scored(0), "scored", 0, 0)
    assert sink.flush() == [str(root)]
    table = DeltaTable(str(root))
    assert len(table.to_pandas()) == 1 and table.transaction_version(app_id("scored", 0)) == 0


def test_readers_of_a_log_without_a_commit_get_one_line_and_no_rows(tmp_path):
    from pipeline.sinks.delta_backfill import last_backfilled
    from pipeline.sinks.delta_table import NoCommitYet, has_commit, is_delta_table
    from pipeline.tools.report.data import ReportError, load

    root = tmp_path / "parquet"
    killed_first_commit(root)
    assert is_delta_table(root) and not has_commit(root)  # meant for Delta, nothing to open
    with pytest.raises(NoCommitYet, match="has no commit yet"):
        open_table(root)
    assert last_backfilled(root, "t", 0) is None
    with pytest.raises(ReportError, match="has no commit yet") as failed:
        load(str(root))
    assert "\n" not in str(failed.value)
