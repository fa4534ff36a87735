"""Compaction and retention on each real local object store (the ``store_root`` fixture:
S3Proxy, fake-gcs-server, Azurite): merged object written before its inputs are deleted, a
crash between the two recovered, the lock object (a conditional create on every store), and
hours deleted by key prefix."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from test_maintenance import TOPIC, message

from pipeline.sinks.dataset import data_files, file_name
from pipeline.sinks.objects import read_table, write_bytes, write_parquet
from pipeline.sinks.parquet import ParquetSink
from pipeline.sinks.storage import locate
from pipeline.tools.maintenance import LOCK_NAME, MaintenanceError, apply_retention, compact

LATER = datetime.now(UTC) + timedelta(hours=3)  # every object is then 3 h old


def names(root) -> list[str]:
    return sorted(d.path.name for d in data_files(root))


def write(root, *ranges: tuple[int, int], hour: int = 13) -> None:
    when = datetime(2026, 11, 25, hour, 30, tzinfo=UTC)
    for first, last in ranges:
        sink = ParquetSink(root)
        for offset in range(first, last + 1):
            sink.add(message(offset, when), TOPIC, 0, offset)
        sink.flush()


def test_compaction_merges_objects_and_deletes_inputs_after_the_merge(store_root):
    write(store_root, (0, 9), (10, 19), (20, 29))
    time.sleep(
        2.5
    )  # some stores (S3Proxy) date objects to the second: > 1 s apart after truncation
    write(store_root, (30, 39), hour=14)  # the partition's tail: newer than the window
    report = compact(store_root, timedelta(hours=2), now=LATER, tail_window=timedelta(seconds=1))
    assert [m.rows for m in report.merges] == [60]  # 30 traces x 2 evaluators
    assert names(store_root) == [file_name(TOPIC, 0, 0, 29), file_name(TOPIC, 0, 30, 39)]
    root = locate(store_root)
    frame = pd.read_parquet(root.path, filesystem=root.fs)
    assert len(frame) == 80 and not frame.duplicated(["trace_id", "evaluator"]).any()
    assert not (root / LOCK_NAME).exists()  # the lock object is gone after the run


def test_a_crash_between_merge_and_deletes_is_finished_by_the_next_run(store_root):
    write(store_root, (0, 9), (10, 19))
    inputs = [d.path for d in data_files(store_root)]
    merged = pa.concat_tables([read_table(p) for p in inputs])  # what a crashed run wrote
    target = inputs[0].parent / file_name(TOPIC, 0, 0, 19)
    assert write_parquet(target, merged, replace=False)
    report = compact(store_root, timedelta(hours=2), now=LATER, tail_window=timedelta(seconds=1))
    assert sorted(report.recovered) == sorted(inputs) and report.merges == []
    assert names(store_root) == [file_name(TOPIC, 0, 0, 19)]


def test_a_held_lock_object_stops_a_second_run(store_root):
    write(store_root, (0, 9))
    root = locate(store_root)
    assert write_bytes(root / LOCK_NAME, b"another host", replace=False)
    with pytest.raises(MaintenanceError, match="another retention or compact run holds"):
        compact(store_root, timedelta(hours=2), now=LATER)
    with pytest.raises(MaintenanceError, match="another retention or compact run holds"):
        apply_retention(store_root, timedelta(days=1), now=LATER)
    (root / LOCK_NAME).delete()


def test_retention_deletes_old_hours_by_prefix_and_keeps_the_current_one(store_root):
    write(store_root, (0, 4), hour=13)
    write(store_root, (5, 9), hour=14)
    now = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    dry = apply_retention(store_root, timedelta(minutes=30), now=now, dry_run=True)
    assert [h.files for h in dry.hours] == [1] and len(names(store_root)) == 2
    report = apply_retention(store_root, timedelta(minutes=30), now=now)
    assert [locate(store_root).relative(h.path) for h in report.hours] == [
        "date=2026-11-25/hour=13"
    ]
    assert report.files == 1 and report.bytes > 0
    assert names(store_root) == [file_name(TOPIC, 0, 5, 9)]


def write_scored(root, first: int, last: int, score: float) -> None:
    when = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)
    sink = ParquetSink(root)
    for offset in range(first, last + 1):
        row = message(offset, when)
        for result in row["results"]:
            result["score"] = score
        sink.add(row, TOPIC, 0, offset)
    sink.flush()


def test_overlapping_objects_are_healed_into_one_with_each_key_once(store_root):
    write_scored(store_root, 0, 9, 0.5)  # the new owner's object
    time.sleep(2.5)  # stores date objects to the second: the zombie's is the later write
    write_scored(store_root, 5, 14, 0.9)  # a zombie's, cut at other offsets
    time.sleep(2.5)
    write(store_root, (15, 19), hour=14)  # the partition's tail: newer than the window
    report = compact(store_root, timedelta(hours=2), now=LATER, tail_window=timedelta(seconds=1))
    [heal] = report.heals
    assert heal.duplicates_dropped == 5 * 2 and heal.rows == 15 * 2
    assert names(store_root) == [file_name(TOPIC, 0, 0, 14), file_name(TOPIC, 0, 15, 19)]
    root = locate(store_root)
    frame = pd.read_parquet(root.path, filesystem=root.fs)
    key = ["kafka_topic", "kafka_partition", "kafka_offset", "evaluator"]
    assert len(frame) == 20 * 2 and not frame.duplicated(key).any()
    healed = frame[frame.kafka_offset <= 14]
    assert set(healed.kafka_offset) == set(range(15))  # no offset lost
    assert (healed[healed.kafka_offset >= 5].score == 0.9).all()  # the later write's copy
