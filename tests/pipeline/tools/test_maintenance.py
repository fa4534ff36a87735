"""Retention and compaction of the Parquet dataset (pipeline.tools.maintenance)."""

from __future__ import annotations

import os
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli.maintenance import compact_command, retention_command
from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.sinks.parquet import ParquetSink, file_name, remove_uncommitted
from pipeline.tools.maintenance import (
    MaintenanceError,
    apply_retention,
    compact,
    parse_data_file,
    parse_duration,
)
from schemas import EvaluationResult, Trace

TOPIC = "scored"
NOW = datetime(2026, 11, 25, 15, 20, tzinfo=UTC)
OLD_DAY = datetime(2026, 11, 24, tzinfo=UTC)
AT_NOW = ["--now", NOW.isoformat()]  # the CLI judges ages against NOW, not the real clock

app = typer.Typer()
app.command("retention")(retention_command)
app.command("compact")(compact_command)


def message(offset: int, when: datetime, partition: int = 0) -> dict:
    trace = Trace(
        trace_id=f"t{partition}-{offset}",
        timestamp=when,
        latency_ms=100.0 + offset,
        tags={"app": "shop"},
    )
    results = [EvaluationResult(evaluator=name, score=0.5, passed=True) for name in ("a", "b")]
    scored = ScoredRecord(SourcedTrace(trace, "traces", partition, offset), results, 0.001)
    return orjson.loads(orjson.dumps(scored.to_message().model_dump(mode="json")))


def write_flushes(root: Path, flushes, partition: int = 0) -> list[Path]:
    """Each flush: a list of (offset, timestamp); offsets go on from flush to flush."""
    written = []
    for flush in flushes:
        sink = ParquetSink(root)
        for offset, when in flush:
            sink.add(message(offset, when, partition), TOPIC, partition, offset)
        written += sink.flush()
    return written


def age(paths, when: datetime) -> None:
    for path in paths:
        os.utime(path, (when.timestamp(), when.timestamp()))


def old_dataset(root: Path, partitions=(0, 1)) -> None:
    """Yesterday 10:00-12:59, three flushes per hour and partition, written long ago; then
    one fresh flush per partition in the current hour (the live tail)."""
    for p in partitions:
        offset = 0
        for hour in (10, 11, 12):
            for _ in range(3):
                stamp = OLD_DAY.replace(hour=hour, minute=5 + offset % 50)
                flush = [(offset + i, stamp + timedelta(seconds=i)) for i in range(4)]
                age(write_flushes(root, [flush], p), stamp + timedelta(minutes=1))
                offset += 4
        write_flushes(root, [[(offset, NOW - timedelta(minutes=5))]], p)


def rows(root: Path) -> Counter:
    frame = pd.read_parquet(root)
    return Counter(zip(frame.trace_id, frame.evaluator, strict=True))


def names(root: Path, hour: int, day: datetime = OLD_DAY) -> list[str]:
    directory = root / f"date={day:%Y-%m-%d}" / f"hour={hour:02d}"
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "30x", "-1d", "0h", "1.5h", "3 days"])
def test_bad_duration_is_rejected(text):
    with pytest.raises(MaintenanceError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("command", ["retention --older-than", "compact --min-age"])
def test_bad_duration_on_the_command_line_is_a_one_line_error(tmp_path, command):
    done = CliRunner().invoke(app, [*command.split(), "30x", "--parquet-dir", str(tmp_path)])
    assert done.exit_code == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: invalid duration '30x': use a positive whole number and a unit (s, m, h, d or w),"
        " e.g. 90m, 12h, 30d"
    ]


# --------------------------------------------------------------------------- retention


def hour_files(root: Path, days_hours) -> None:
    for day, hour in days_hours:
        write_flushes(root, [[(hour, day.replace(hour=hour, minute=30))]])


def test_retention_deletes_old_hours_only_and_empty_date_dirs(tmp_path):
    today = NOW.replace(hour=0)
    hour_files(tmp_path, [(OLD_DAY, 9), (OLD_DAY, 13), (OLD_DAY, 14), (today, 14), (today, 15)])
    (tmp_path / "date=2026-11-20" / "hour=03").mkdir(parents=True)  # empty, old
    (tmp_path / "date=junk").mkdir()
    report = apply_retention(tmp_path, timedelta(hours=25), now=NOW)  # cutoff 11-24 14:20
    assert [h.path.relative_to(tmp_path).as_posix() for h in report.hours] == [
        "date=2026-11-20/hour=03",
        "date=2026-11-24/hour=09",
        "date=2026-11-24/hour=13",
    ]
    assert report.files == 2 and report.bytes > 0
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "date=2026-11-24",
        "date=2026-11-25",
        "date=junk",
    ]
    assert [p.name for p in (tmp_path / "date=2026-11-24").iterdir()] == ["hour=14"]
    assert sum(rows(tmp_path).values()) == 6  # hours 14 (two days) and 15


def test_retention_removes_whole_days_but_never_the_current_hour(tmp_path):
    today = NOW.replace(hour=0)
    hour_files(tmp_path, [(OLD_DAY, 9), (today, 14), (today, 15)])
    apply_retention(tmp_path, timedelta(minutes=1), now=NOW)
    assert not (tmp_path / "date=2026-11-24").exists()
    assert [p.name for p in (tmp_path / "date=2026-11-25").iterdir()] == ["hour=15"]
    # A clock behind the data (future hours) never deletes them either.
    apply_retention(tmp_path, timedelta(minutes=1), now=NOW - timedelta(days=3))
    assert (tmp_path / "date=2026-11-25" / "hour=15").exists()


def test_retention_keeps_a_write_in_progress(tmp_path):
    hour_files(tmp_path, [(OLD_DAY, 9)])
    hour = tmp_path / "date=2026-11-24" / "hour=09"
    (hour / ".x.parquet.tmp").write_bytes(b"half")
    report = apply_retention(tmp_path, timedelta(days=1), now=NOW)
    assert report.files == 1 and [p.name for p in report.hours[0].kept] == [".x.parquet.tmp"]
    assert [p.name for p in hour.iterdir()] == [".x.parquet.tmp"]


def test_retention_dry_run_deletes_nothing_and_lists_sizes(tmp_path):
    hour_files(tmp_path, [(OLD_DAY, 9), (NOW.replace(hour=0), 15)])
    before = sorted(tmp_path.rglob("date=*"))
    done = CliRunner().invoke(
        app,
        ["retention", "--older-than", "1d", "--dry-run", "--parquet-dir", str(tmp_path), *AT_NOW],
    )
    assert done.exit_code == 0, done.output
    assert sorted(tmp_path.rglob("date=*")) == before
    size = next((tmp_path / "date=2026-11-24").rglob("*.parquet")).stat().st_size
    lines = done.stdout.splitlines()
    assert lines[0].startswith("would delete ") and "date=2026-11-24/hour=09: 1 file(s)" in lines[0]
    assert (
        f"would delete 1 partition(s), 1 file(s), {size / 1024:,.1f} KiB ({size:,} bytes)"
        in (lines[1])
    )
    done = CliRunner().invoke(
        app, ["retention", "--older-than", "1d", "--parquet-dir", str(tmp_path), *AT_NOW]
    )
    assert done.exit_code == 0 and "deleted 1 partition(s), 1 file(s)" in done.stdout
    assert not (tmp_path / "date=2026-11-24").exists()


def test_missing_parquet_dir_is_a_one_line_error(tmp_path):
    done = CliRunner().invoke(
        app, ["retention", "--older-than", "1d", "--parquet-dir", str(tmp_path / "nope")]
    )
    assert done.exit_code == 2
    assert done.stderr.startswith("error: parquet dir") and done.stderr.count("\n") == 1


# --------------------------------------------------------------------------- compaction


def test_compact_merges_closed_hours_into_one_file_per_topic_partition(tmp_path):
    old_dataset(tmp_path)
    before = rows(tmp_path)
    schema = pq.read_schema(next(tmp_path.rglob("*.parquet")))
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert len(report.merges) == 6 and report.files_merged == 18 and not report.skipped
    assert rows(tmp_path) == before
    assert names(tmp_path, 10) == [file_name(TOPIC, 0, 0, 11), file_name(TOPIC, 1, 0, 11)]
    assert names(tmp_path, 12) == [file_name(TOPIC, 0, 24, 35), file_name(TOPIC, 1, 24, 35)]
    merged = tmp_path / "date=2026-11-24" / "hour=11" / file_name(TOPIC, 1, 12, 23)
    assert pq.read_schema(merged).equals(schema, check_metadata=True)
    assert pq.read_schema(merged).metadata[b"evalstream.schema_version"] == b"1"
    offsets = pq.read_table(merged).column("kafka_offset").to_pylist()
    assert offsets == sorted(offsets) and len(offsets) == 24
    # The fresh tail in the current hour is untouched.
    assert names(tmp_path, 15, NOW.replace(hour=0)) == [
        file_name(TOPIC, 0, 36, 36),
        file_name(TOPIC, 1, 36, 36),
    ]
    # The uncommitted-file cleanup still reads merged names right.
    assert remove_uncommitted(tmp_path, TOPIC, 0, committed=36) == [
        tmp_path / "date=2026-11-25" / "hour=15" / file_name(TOPIC, 0, 36, 36)
    ]


def test_compact_is_idempotent_and_dry_run_changes_nothing(tmp_path):
    old_dataset(tmp_path, partitions=(0,))
    before = sorted(tmp_path.rglob("*.parquet"))
    dry = compact(tmp_path, timedelta(hours=2), now=NOW, dry_run=True)
    assert len(dry.merges) == 3 and sorted(tmp_path.rglob("*.parquet")) == before
    compact(tmp_path, timedelta(hours=2), now=NOW)
    after = sorted(tmp_path.rglob("*.parquet"))
    again = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert not again.merges and not again.recovered and not again.skipped
    assert sorted(tmp_path.rglob("*.parquet")) == after


def test_compact_command(tmp_path):
    old_dataset(tmp_path, partitions=(0,))
    done = CliRunner().invoke(
        app, ["compact", "--parquet-dir", str(tmp_path), "--dry-run", *AT_NOW]
    )
    assert done.exit_code == 0, done.output
    assert "would merge 9 file(s) into 3; would remove 0 leftover file(s); 0 skipped" in (
        done.stdout
    )
    done = CliRunner().invoke(app, ["compact", "--parquet-dir", str(tmp_path), *AT_NOW])
    assert done.exit_code == 0, done.output
    assert "merged 9 file(s) into 3; removed 0 leftover file(s); 0 skipped" in done.stdout
    assert len(list((tmp_path / "date=2026-11-24").rglob("*.parquet"))) == 3


def test_recent_files_tail_and_in_progress_hours_are_left_alone(tmp_path):
    # The partition's last writes (a dead worker's possibly uncommitted files) are the tail:
    # no fresh file anywhere, so the newest old files are not merged.
    for hour in (10, 11):
        for n in range(2):
            stamp = OLD_DAY.replace(hour=hour, minute=10 + 20 * n)
            offset = (hour - 10) * 20 + n * 10
            age(write_flushes(tmp_path, [[(offset, stamp)]]), stamp)
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    # tail = files written in the 2 h before the newest (11:30): everything from 10:30 on
    assert report.merges == [] and len(list(tmp_path.rglob("*.parquet"))) == 4
    report = compact(tmp_path, timedelta(hours=2), now=NOW, tail_window=timedelta(minutes=30))
    assert [m.output.name for m in report.merges] == [file_name(TOPIC, 0, 0, 10)]
    # A file written recently into an old hour (late data) is not merged either.
    stamp = OLD_DAY.replace(hour=11, minute=50)
    write_flushes(tmp_path, [[(40, stamp)]])  # mtime: now
    age(write_flushes(tmp_path, [[(50, NOW - timedelta(hours=3))]]), NOW - timedelta(hours=3))
    age(write_flushes(tmp_path, [[(60, NOW)]]), NOW)  # new tail
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert [m.output.name for m in report.merges] == [file_name(TOPIC, 0, 20, 30)]
    assert names(tmp_path, 11) == [file_name(TOPIC, 0, 20, 30), file_name(TOPIC, 0, 40, 40)]
    # A temp file in an hour: the hour is skipped.
    hour = tmp_path / "date=2026-11-24" / "hour=10"
    age(write_flushes(tmp_path, [[(70, OLD_DAY.replace(hour=10))]]), NOW - timedelta(hours=3))
    (hour / f".{file_name(TOPIC, 0, 71, 71)}.tmp").write_bytes(b"")
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert report.skipped == [(hour, "write in progress (.tmp file)")]


def test_compact_that_merges_nothing_says_why(tmp_path):
    """Every file in its partition's recent tail: the command used to print only 'merged 0
    file(s) into 0' (issue 16, item 10)."""
    for hour in (10, 11):
        for n in range(2):
            stamp = OLD_DAY.replace(hour=hour, minute=10 + 20 * n)
            age(write_flushes(tmp_path, [[((hour - 10) * 20 + n * 10, stamp)]]), stamp)
    open_hour = NOW.replace(hour=14, minute=5)  # ended 20 minutes ago: not closed
    age(write_flushes(tmp_path, [[(50, open_hour)]]), OLD_DAY.replace(hour=9))
    done = CliRunner().invoke(app, ["compact", "--parquet-dir", str(tmp_path), *AT_NOW])
    assert done.exit_code == 0, done.output
    assert "merged 0 file(s) into 0" in done.stdout
    assert "nothing merged: 4 file(s) are in their partition's recent tail (written within 2h" in (
        done.stdout
    )
    assert "1 hour(s) are current or ended less than 2h ago (see --min-age)" in done.stdout
    report = compact(tmp_path, timedelta(hours=2), now=NOW, tail_window=timedelta(minutes=30))
    assert report.merges and report.idle_reason() is None


def crash_after_rename(root: Path) -> tuple[Counter, list[Path]]:
    """Compact, then put the inputs back: a run killed between the rename and the deletes."""
    old_dataset(root, partitions=(0,))
    before = rows(root)
    inputs = sorted(root.glob("date=2026-11-24/hour=1[01]/*.parquet"))
    saved = {p: p.read_bytes() for p in inputs}
    compact(root, timedelta(hours=2), now=NOW)
    for path, data in saved.items():
        path.write_bytes(data)
    age(inputs, NOW - timedelta(hours=20))
    return before, inputs


def test_rerun_after_a_crash_removes_the_inputs_instead_of_merging_twice(tmp_path):
    before, inputs = crash_after_rename(tmp_path)
    assert sum(rows(tmp_path).values()) == sum(before.values()) + 2 * 12 * 2  # readers' window
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert sorted(report.recovered) == inputs and report.merges == []
    assert rows(tmp_path) == before
    assert names(tmp_path, 10) == [file_name(TOPIC, 0, 0, 11)]
    assert names(tmp_path, 11) == [file_name(TOPIC, 0, 12, 23)]


def test_contained_file_with_rows_the_container_lacks_is_kept(tmp_path):
    _, inputs = crash_after_rename(tmp_path)
    stray = inputs[1].with_name(file_name(TOPIC, 0, 5, 5))  # inside 0-11, rows it lacks
    sink = ParquetSink(tmp_path)
    sink.add(message(999, OLD_DAY.replace(hour=10)), TOPIC, 0, 5)
    sink.flush()
    age([stray], NOW - timedelta(hours=20))
    report = compact(tmp_path, timedelta(hours=2), now=NOW)
    assert stray.exists() and any("rows are not" in reason for _, reason in report.skipped)


def test_compact_beside_a_live_worker_loses_and_doubles_nothing(tmp_path):
    now = datetime.now(UTC)
    closed = (now - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    expected = Counter()
    offset = 0
    for n in range(12):  # the closed hour, written long ago
        flush = [(offset + i, closed + timedelta(minutes=n)) for i in range(3)]
        age(write_flushes(tmp_path, [flush]), closed + timedelta(minutes=n + 1))
        expected.update((f"t0-{o}", e) for o, _ in flush for e in "ab")
        offset += 3
    stop = threading.Event()
    errors: list[BaseException] = []
    runs = Counter()

    def worker() -> None:  # the live worker: current hour plus late data for the old one
        nonlocal offset
        try:
            for n in range(40):
                stamp = now if n % 3 else closed + timedelta(minutes=30)
                flush = [(offset + i, stamp) for i in range(2)]
                write_flushes(tmp_path, [flush])
                expected.update((f"t0-{o}", e) for o, _ in flush for e in "ab")
                offset += 2
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def compactor() -> None:
        try:
            while True:
                last = stop.is_set()  # one more run after the worker stopped
                report = compact(tmp_path, timedelta(hours=2))
                runs["merged"] += len(report.merges)
                runs["runs"] += 1
                if last:
                    break
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker), threading.Thread(target=compactor)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert runs["merged"] == 1 and runs["runs"] >= 2
    assert not list(tmp_path.rglob("*.tmp"))
    assert rows(tmp_path) == expected
    closed_dir = tmp_path / f"date={closed:%Y-%m-%d}" / f"hour={closed:%H}"
    files = sorted((parse_data_file(p) for p in closed_dir.iterdir()), key=lambda f: f.first)
    assert files[0].path.name == file_name(TOPIC, 0, 0, 35)
    assert len(files) == 1 + 14 and all(f.first >= 36 for f in files[1:])  # late data kept
