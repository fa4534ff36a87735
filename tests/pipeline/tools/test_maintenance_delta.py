"""compact and retention on Delta tables (OPTIMIZE, DELETE by partition, VACUUM), the report
and the UI's listing reading them: rows kept exactly, files merged, old hours gone, nothing
read twice from the files a compaction replaced. Tables are written by the real DeltaSink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.sinks.delta import DeltaSink
from pipeline.sinks.delta_table import live_files, open_table
from pipeline.tools.maintenance import MaintenanceError
from pipeline.tools.maintenance.delta import compact_delta, retention_delta
from pipeline.tools.report import data
from pipeline.tools.ui.delta import DeltaDataset
from pipeline.tools.ui.layout import Datasets

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HOURS = ("2026-11-25T09", "2026-11-25T10", "2026-11-26T11")


def message(i: int, hour: str) -> dict:
    return {
        "trace_id": f"t-{i}",
        "timestamp": f"{hour}:{i % 60:02d}:00Z",
        "app": "shop",
        "status": "OK",
        "source": {"topic": "traces", "partition": 0, "offset": i},
        "results": [
            {"evaluator": "latency", "score": 1.0, "passed": True},
            {"evaluator": "error", "score": 0.0, "passed": False},
        ],
        "body": {"inputs": {"q": i}, "spans": [{"span_id": f"s{i}", "name": "llm"}]},
    }


@pytest.fixture
def tables(tmp_path):
    """Four flushes (one commit each per table), each with rows in all three hours."""
    sink = DeltaSink(tmp_path / "data" / "parquet", store_traces=True)
    offset = 0
    for _ in range(4):
        for hour in HOURS:
            for _ in range(5):
                sink.add(message(offset, hour), "scored", 0, offset)
                offset += 1
        sink.flush()
    return tmp_path / "data"


def files_per_hour(root) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for f in live_files(open_table(root)):
        counts[f.date, f.hour] = counts.get((f.date, f.hour), 0) + 1
    return counts


def test_compact_optimizes_closed_hours_only_and_keeps_every_row(tables):
    root = tables / "parquet"
    before = DeltaTable(str(root)).to_pandas()
    assert files_per_hour(root) == {("2026-11-25", "09"): 4, ("2026-11-25", "10"): 4,
                                    ("2026-11-26", "11"): 4}  # fmt: skip
    dry = compact_delta(root, timedelta(hours=2), now=NOW, dry_run=True)
    assert [p[:2] for p in dry.partitions] == [("2026-11-25", "09"), ("2026-11-25", "10")]
    assert files_per_hour(root)[("2026-11-25", "09")] == 4  # dry run changed nothing

    report = compact_delta(root, timedelta(hours=2), now=NOW, vacuum_retention=timedelta(0))
    assert (report.files_removed, report.files_added) == (8, 2)
    assert files_per_hour(root) == {
        ("2026-11-25", "09"): 1,
        ("2026-11-25", "10"): 1,
        ("2026-11-26", "11"): 4,
    }  # 11:00 ended 0 h ago: open
    assert len(report.vacuum.files) == 8  # the replaced files, deleted from disk
    after = DeltaTable(str(root)).to_pandas()
    key = ["trace_id", "evaluator"]
    assert len(after) == len(before) == 120 and not after.duplicated(key).any()
    assert set(map(tuple, after[key].values)) == set(map(tuple, before[key].values))


def test_retention_deletes_old_hours_and_vacuums(tables):
    root = tables / "parquet"
    report = retention_delta(root, timedelta(hours=26), now=NOW, vacuum_retention=timedelta(0))
    # cutoff 2026-11-25 10:00: hour 09 ended at 10:00 -> deleted; 10 ended 11:00 -> kept
    assert report.partitions == [("2026-11-25", "09")] and report.rows == 40
    assert report.files == 4 and len(report.vacuum.files) == 4
    frame = DeltaTable(str(root)).to_pandas()
    assert sorted(set(frame.hour)) == ["10", "11"] and len(frame) == 80
    assert not list((root / "date=2026-11-25").glob("hour=09/*.parquet"))  # vacuumed
    with pytest.raises(MaintenanceError, match="positive"):
        retention_delta(root, timedelta(0))


def test_cli_runs_delta_maintenance_on_every_dataset(tables):
    root = tables / "parquet"
    at = ["--now", NOW.isoformat()]
    done = CliRunner().invoke(app, ["compact", "--parquet-dir", str(root), "--min-age", "2h", *at])
    assert done.exit_code == 0, done.output
    for name in ("results", "traces", "spans"):
        assert f"{name} (Delta " in done.output and "compacted 2 partition(s)" in done.output
    assert files_per_hour(tables / "spans")[("2026-11-25", "09")] == 1
    done = CliRunner().invoke(
        app, ["retention", "--parquet-dir", str(root), "--older-than", "26h", *at]
    )
    assert done.exit_code == 0, done.output
    assert "deleted 1 partition(s)" in done.output
    assert len(DeltaTable(str(tables / "traces")).to_pandas()) == 40  # 60 - hour 09's 20


def test_report_and_ui_read_only_the_live_files_after_a_compaction(tables):
    root = tables / "parquet"
    compact_delta(root, timedelta(hours=2), now=NOW)  # replaced files stay on disk (7 days)
    assert len(list(root.rglob("*.parquet"))) == 14  # 12 written + 2 merged
    frame = data.load(root)
    assert len(frame) == 120
    datasets = Datasets.beside(root)
    assert isinstance(datasets.spans, DeltaDataset)
    listed = datasets.results.files()
    assert len(listed) == 6  # 1 + 1 + 4 live files
    assert {f.hour_start for f in listed} == {
        datetime(2026, 11, 25, 9, tzinfo=UTC), datetime(2026, 11, 25, 10, tzinfo=UTC),
        datetime(2026, 11, 26, 11, tzinfo=UTC),
    }  # fmt: skip


def test_ui_api_over_delta_tables(tables):
    from starlette.testclient import TestClient

    from pipeline.tools.ui.app import create_app
    from pipeline.tools.ui.store import Store

    store = Store(Datasets.beside(tables / "parquet"), listing_ttl=0)
    with TestClient(create_app(store)) as client:
        health = client.get("/health").json()
        assert health["datasets"] == {"results": True, "traces": True, "spans": True}
        page = client.get("/api/traces?evaluator=error&passed=false&limit=500").json()
        assert page["total"] == 60
        detail = client.get("/api/traces/t-7").json()
        assert detail["inputs"] == {"q": 7} and len(detail["spans"]) == 1
        assert sorted(r["evaluator"] for r in detail["results"]) == ["error", "latency"]


def test_backfill_into_a_delta_table_writes_it_once(tables, tmp_path):
    """Backfill into the worker's Delta table: the table gets the rows (replace-where
    commits, pipeline/sinks/delta_backfill.py), its own rows stay, a re-run adds nothing."""
    source = tmp_path / "old.jsonl"
    source.write_text('{"trace_id": "x", "timestamp": "2026-11-25T10:00:00Z"}\n')
    before = len(DeltaTable(str(tables / "parquet")).to_pandas())
    args = ["backfill", "--from-files", str(source), "--parquet-dir", str(tables / "parquet")]
    for _ in range(2):
        done = CliRunner().invoke(app, [*args, "--evaluators", "latency"])
        assert done.exit_code == 0, done.output
        assert "in 3 Delta commits" in done.stdout  # results, traces, spans
        rows = DeltaTable(str(tables / "parquet")).to_pandas()
        assert len(rows) == before + 1
        assert rows[rows["trace_id"] == "x"]["evaluator"].tolist() == ["latency"]
    assert not list((tables / "parquet").rglob("backfill-*.parquet"))
