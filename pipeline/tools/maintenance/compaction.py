"""Compaction of the Parquet dataset (``evalstream compact``): merge small files per hour.

Compaction merges, in each closed hour (its end more than ``min_age`` ago), the files of one
scored topic-partition into one file named after the union of their offset ranges, e.g.
``t-p3-o…000-…099`` + ``t-p3-o…100-…250`` -> ``t-p3-o…000-…250``. The merged file starts at
the smallest offset, so ``remove_uncommitted`` (which deletes files whose *first* offset is at
or past the committed one) treats it like its inputs. That is only right if every input was
committed, so a file is merged only when

* it was written more than ``min_age`` ago (the worker commits every second or so), and
* it is not in its partition's *tail*: the files of that topic-partition written during the
  ``tail_window`` (default ``min_age``) before its newest file, anywhere in the dataset, and
  every file at or past the lowest offset of those. If a worker died with uncommitted files
  and nobody took its partitions over yet, those files are its last writes, so they are in
  the tail and stay as they are until the takeover deletes them.

Only files whose rows all lie in the hour and whose schemas (with metadata:
``evalstream.schema_version``) are identical are merged, and only runs of such files that
are adjacent in offset order (a file that may not be merged is never folded into a range
around it). Files whose ranges overlap (a zombie worker's, docs/guarantees.md) are healed
instead: once every one of them may be merged, they become one file holding each row key
once, and the report counts the duplicate rows dropped
(:mod:`~pipeline.tools.maintenance.overlaps`). Hours with a ``.*.tmp`` file (a write in
progress) are skipped.

Crash safety, in order: the merged rows (stable-sorted by source kafka topic, partition and
offset) are written under their final name, written once (:mod:`pipeline.sinks.objects`:
on local disk a fsynced ``.<name>.<unique>.tmp`` *linked* to the name, dated like its newest
input so merged old data never looks like a partition's tail; in an object store one
conditional PUT, ``If-None-Match: *``); either way it fails instead of replacing a file of
that name. Its row count is read back and checked against the inputs; only then are the
inputs deleted. On an object store the merged object carries its write time, so the files
after it in its partition wait one ``tail_window`` longer before they are merged. No step can lose a
row. A crash between the link and the deletes leaves the merged file *and* its inputs:
readers then see those rows twice until the next run, which first looks for files whose
offset range is contained in another file's range in the same hour, checks that every row
of the contained file (by trace, evaluator and source offset) is in the container, and
deletes it; it never merges them a second time. A contained file whose rows are *not* all in
the container is reported and left alone. Writing the merged file under a hidden name and
renaming it only after the deletes would instead hide the rows from readers in that window,
and a crash there would need the hidden file to be found again - data being briefly visible
twice is the safer failure. Leftover ``.tmp`` files of a killed compaction are deleted once
they are older than ``TMP_GRACE``.

Beside a live worker this is safe because the worker only ever adds files (new names, or the
same name with the same rows on a replay) and only deletes uncommitted files, which
compaction does not touch; compaction reads a file list, deletes only files it merged (by
name) and skips anything written during the last ``min_age``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.clock import resolve_now
from pipeline.sinks.dataset import (
    RESULTS,
    DatasetKind,
    Entry,
    HourDir,
    Root,
    entries,
    file_name,
    parse_data_file,
)
from pipeline.sinks.objects import num_rows, read_table, write_parquet
from pipeline.sinks.storage import StorageError, locate, mtime_of
from pipeline.tools.maintenance.compaction_report import (
    HELD_TAIL,
    HELD_YOUNG,
    CompactReport,
    Heal,
    Merge,
)
from pipeline.tools.maintenance.layout import (
    TMP_GRACE,
    DataFile,
    MaintenanceError,
    fsync_dir,
    maintenance_lock,
)
from pipeline.tools.maintenance.overlaps import heal_cluster, overlap_clusters
from pipeline.tools.maintenance.recovery import recover_contained

ROW_KEY = RESULTS.row_key
SORT_KEY = [(name, "ascending") for name in ("kafka_topic", "kafka_partition", "kafka_offset")]


def compact(
    root: Root,
    min_age: timedelta = timedelta(hours=2),
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    tail_window: timedelta | None = None,
    kind: DatasetKind = RESULTS,
) -> CompactReport:
    """Merge the small files of closed hours of the ``kind`` dataset at ``root`` (results,
    traces or spans); see the module docstring for the rules."""
    if min_age <= timedelta(0):
        raise MaintenanceError("compaction min age must be positive")
    now = resolve_now(now)
    tail_window = min_age if tail_window is None else tail_window
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    report = CompactReport(dry_run=dry_run, min_age=min_age, tail_window=tail_window)
    root = locate(root)
    with maintenance_lock(root):
        listed = entries(root)
        by_hour: dict[datetime, list[Entry]] = {}
        for entry in listed:
            by_hour.setdefault(entry.hour_start, []).append(entry)
        tails = _tail_starts(listed, tail_window)
        for start, hour_entries in sorted(by_hour.items()):
            hour = HourDir(hour_entries[0].path.parent, start)
            if hour.end > now - min_age or hour.start >= current_hour:
                report.open_hours += 1
                continue
            try:
                _compact_hour(hour, hour_entries, kind, now, min_age, tails, dry_run, report)
            except StorageError as exc:
                raise MaintenanceError(str(exc)) from None
    return report


def _tail_starts(listed: list[Entry], window: timedelta) -> dict[tuple[str, int], int]:
    """Per topic-partition: the lowest first offset among its files written in *window*
    before its newest file. Files reaching that offset are never merged."""
    stamped: dict[tuple[str, int], list[tuple[datetime, int]]] = {}
    for entry in listed:
        data = parse_data_file(entry.path, entry.info)
        if data is not None and data.mtime is not None:
            stamped.setdefault(data.group, []).append((data.mtime, data.first))
    tails = {}
    for group, files in stamped.items():
        newest = max(mtime for mtime, _ in files)
        tails[group] = min(first for mtime, first in files if mtime >= newest - window)
    return tails


def _compact_hour(
    hour: HourDir,
    hour_entries: list[Entry],
    kind: DatasetKind,
    now: datetime,
    min_age: timedelta,
    tails: dict[tuple[str, int], int],
    dry_run: bool,
    report: CompactReport,
) -> None:
    tmps = [e for e in hour_entries if e.path.name.startswith(".") and e.path.name.endswith(".tmp")]
    stale = [e for e in tmps if (m := mtime_of(e.info)) is not None and now - m >= TMP_GRACE]
    if stale and len(stale) == len(tmps) and not dry_run:
        for entry in stale:  # left by a killed run; never linked, so never visible
            entry.path.delete()
        tmps = []
    if tmps:
        report.skipped.append((hour.path, "write in progress (.tmp file)"))
        return
    groups: dict[tuple[str, int], list[DataFile]] = {}
    for entry in hour_entries:
        data = parse_data_file(entry.path, entry.info)
        if data is not None:
            groups.setdefault(data.group, []).append(data)
    for group, files in sorted(groups.items()):
        files = recover_contained(files, kind, dry_run, report)
        if files is None:
            continue
        files.sort(key=lambda f: (f.first, f.last))
        tail = tails.get(group)
        run: list[DataFile] = []
        for cluster in [*overlap_clusters(files), None]:
            if cluster is not None and len(cluster) == 1:
                held = _held(cluster[0], now, min_age, tail)
                if held is None:
                    run.append(cluster[0])
                    continue
                report.held[held] += 1
            elif cluster is not None:  # overlapping ranges: a zombie's file, healed apart
                _heal(hour, kind, cluster, now, min_age, tail, dry_run, report)
            if len(run) >= 2:
                _merge(hour, kind, run, dry_run, report)
            run = []


def _heal(
    hour: HourDir,
    kind: DatasetKind,
    cluster: list[DataFile],
    now: datetime,
    min_age: timedelta,
    tail: int | None,
    dry_run: bool,
    report: CompactReport,
) -> None:
    """Heal a cluster of overlapping files once all of them may be merged."""
    held = [reason for data in cluster if (reason := _held(data, now, min_age, tail))]
    if held:
        report.held.update(held)
        first = cluster[0]
        report.skipped.append(
            (hour.path, f"{first.topic}-p{first.partition}: overlapping offsets in files that"
             f" may not be merged yet ({', '.join(sorted(set(held)))}); healed once they may")
        )  # fmt: skip
        return
    heal_cluster(hour, kind, cluster, SORT_KEY, dry_run, report)


def _held(data: DataFile, now: datetime, min_age: timedelta, tail: int | None) -> str | None:
    """Why this file may not be merged (a ``HELD_*`` reason), or None if it may."""
    mtime = data.mtime
    if mtime is None or now - mtime < min_age:
        return HELD_YOUNG
    if tail is not None and data.last >= tail:
        return HELD_TAIL
    return None


def _merge(
    hour: HourDir, kind: DatasetKind, run: list[DataFile], dry_run: bool, report: CompactReport
) -> None:
    first, last = run[0], run[-1]
    target = hour.path / file_name(first.topic, first.partition, first.first, last.last)
    label = f"{first.topic}-p{first.partition}"
    if target.exists():
        report.skipped.append((hour.path, f"{label}: {target.name} exists"))
        return
    try:
        tables = [read_table(data.path) for data in run]
    except FileNotFoundError:  # removed meanwhile (retention, a takeover): next run
        report.skipped.append((hour.path, f"{label}: an input file vanished"))
        return
    schema = tables[0].schema
    if any(not t.schema.equals(schema, check_metadata=True) for t in tables[1:]):
        report.skipped.append((hour.path, f"{label}: files have different schemas"))
        return
    merged = pa.concat_tables(tables)
    stamps = merged.column(kind.time_column)
    start = pa.scalar(hour.start, stamps.type)
    end = pa.scalar(hour.end, stamps.type)
    if len(merged) and (
        pc.less(pc.min(stamps), start).as_py() or pc.greater_equal(pc.max(stamps), end).as_py()
    ):
        report.skipped.append((hour.path, f"{label}: rows outside the hour"))
        return
    merged = merged.take(pc.sort_indices(merged, sort_keys=SORT_KEY))  # stable sort
    report.merges.append(Merge(hour.path, target, [d.path for d in run], len(merged)))
    if dry_run:
        return
    # The data is as old as its newest input: a fresh mtime would put old offsets in the
    # partition's tail and block the next runs (local disk; an object store dates it itself).
    stamps_s = [d.mtime.timestamp() for d in run if d.mtime is not None]
    if not write_parquet(target, merged, replace=False, mtime=max(stamps_s, default=None)):
        report.merges.pop()
        report.skipped.append((hour.path, f"{label}: {target.name} appeared meanwhile"))
        return
    if num_rows(target) != len(merged):
        raise MaintenanceError(f"{target} does not hold the merged rows; inputs kept")
    for data in run:
        data.path.delete()
    fsync_dir(hour.path)


__all__ = ["ROW_KEY", "SORT_KEY", "CompactReport", "Heal", "Merge", "compact"]
