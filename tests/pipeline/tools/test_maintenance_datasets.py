"""Retention and compaction of the traces and spans datasets beside the results: the same
commands treat all three, each by its own time column and row key."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import typer
from typer.testing import CliRunner

from pipeline.cli.maintenance import compact_command, retention_command
from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.sinks.dataset import SPANS, dataset_roots
from pipeline.sinks.parquet import ParquetSink
from pipeline.tools.maintenance import compact
from schemas import EvaluationResult, Trace

NOW = datetime(2026, 11, 25, 15, 20, tzinfo=UTC)
OLD = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
AT_NOW = ["--now", NOW.isoformat()]
KEYS = {"parquet": ("trace_id", "evaluator"), "traces": ("trace_id",), "spans": ("span_id",)}

app = typer.Typer()
app.command("retention")(retention_command)
app.command("compact")(compact_command)


def message(offset: int, when: datetime) -> dict:
    trace = Trace.model_validate(
        {
            "trace_id": f"t{offset}",
            "timestamp": when,
            "inputs": {"q": f"question {offset}"},
            "spans": [{"span_id": f"t{offset}-root"}, {"span_id": f"t{offset}-llm"}],
        }
    )
    results = [EvaluationResult(evaluator=name, score=0.5) for name in ("a", "b")]
    scored = ScoredRecord(SourcedTrace(trace, "traces", 0, offset), results, None)
    return orjson.loads(orjson.dumps(scored.to_message().model_dump(mode="json")))


def write(root: Path, offsets: range, when: datetime) -> None:
    sink = ParquetSink(root, store_traces=True)
    for offset in offsets:
        sink.add(message(offset, when + timedelta(seconds=offset)), "scored", 0, offset)
    for path in sink.flush():
        os.utime(path, ((when + timedelta(minutes=5)).timestamp(),) * 2)


def dataset(tmp_path: Path) -> Path:
    """Three old flushes in yesterday's 10:00 hour, one fresh flush now."""
    root = tmp_path / "parquet"
    for first in (0, 4, 8):
        write(root, range(first, first + 4), OLD)
    write(root, range(12, 14), NOW - timedelta(minutes=5))
    return root


def rows(tmp_path: Path) -> dict[str, Counter]:
    out = {}
    for name, key in KEYS.items():
        frame = pd.read_parquet(tmp_path / name)
        out[name] = Counter(zip(*(frame[k] for k in key), strict=True))
    return out


def files(tmp_path: Path, name: str) -> int:
    return len(list((tmp_path / name).rglob("*.parquet")))


def test_retention_command_deletes_old_hours_of_every_dataset(tmp_path):
    root = dataset(tmp_path)
    done = CliRunner().invoke(
        app, ["retention", "--older-than", "2h", "--parquet-dir", str(root), *AT_NOW]
    )
    assert done.exit_code == 0, done.output
    for name in ("results", "traces", "spans"):
        assert f"{name}: deleted 1 partition(s), 3 file(s)" in done.stdout
    after = rows(tmp_path)
    assert sorted(after["traces"]) == [("t12",), ("t13",)]
    assert len(after["spans"]) == 4 and len(after["parquet"]) == 4


def test_compact_command_merges_every_dataset_and_keeps_every_row(tmp_path):
    root = dataset(tmp_path)
    before = rows(tmp_path)
    assert sum(before["spans"].values()) == 28  # 14 traces x 2 spans
    done = CliRunner().invoke(app, ["compact", "--parquet-dir", str(root), *AT_NOW])
    assert done.exit_code == 0, done.output
    for name in ("results", "traces", "spans"):
        assert f"{name}: merged 3 file(s) into 1;" in done.stdout
    assert rows(tmp_path) == before
    assert [files(tmp_path, name) for name in KEYS] == [2, 2, 2]  # merged + the fresh tail


def test_compact_recovers_a_killed_merge_in_spans_by_the_spans_row_key(tmp_path):
    root = dataset(tmp_path)
    spans_root = dataset_roots(root)[SPANS]
    compact(spans_root, timedelta(hours=2), now=NOW, kind=SPANS)
    # A crash between the merge's rename and its deletes leaves an input beside the output.
    write(root, range(4, 8), OLD)
    assert files(tmp_path, "spans") == 3
    report = compact(spans_root, timedelta(hours=2), now=NOW, kind=SPANS)
    assert len(report.recovered) == 1 and not report.skipped
    assert sum(rows(tmp_path)["spans"].values()) == 28


def test_a_missing_traces_dataset_is_skipped(tmp_path):
    root = tmp_path / "parquet"
    sink = ParquetSink(root)  # results only: no traces or spans directory
    sink.add(message(0, OLD), "scored", 0, 0)
    sink.flush()
    done = CliRunner().invoke(
        app, ["retention", "--older-than", "2h", "--parquet-dir", str(root), *AT_NOW]
    )
    assert done.exit_code == 0, done.output
    assert "results: deleted 1 partition(s)" in done.stdout
    assert "traces:" not in done.stdout and sorted(os.listdir(tmp_path)) == ["parquet"]
