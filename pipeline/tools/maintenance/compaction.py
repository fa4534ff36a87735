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

Only files whose ranges do not overlap, whose rows all lie in the hour and whose schemas
(with metadata: ``evalstream.schema_version``) are identical are merged, and only runs of
such files that are adjacent in offset order (a file that may not be merged is never folded
into a range around it). Hours with a ``.*.tmp`` file (a write in progress) are skipped.

Crash safety, in order: the merged rows (stable-sorted by source kafka topic, partition and
offset) are written to ``.<name>.tmp`` and fsynced; the temp file is *linked* to its final
name (fails instead of replacing if that name exists; its mtime is set to its newest
input's, so merged old data never looks like a partition's tail) and the directory fsynced; its row
count is checked against the inputs; only then are the inputs deleted. No step can lose a
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

import itertools
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.clock import resolve_now
from pipeline.sinks.dataset import RESULTS, DatasetKind, data_files, file_name
from pipeline.tools.maintenance.layout import (
    TMP_GRACE,
    DataFile,
    HourDir,
    MaintenanceError,
    file_mtime,
    fsync_dir,
    hour_dirs,
    maintenance_lock,
    parse_data_file,
)

ROW_KEY = RESULTS.row_key
SORT_KEY = [(name, "ascending") for name in ("kafka_topic", "kafka_partition", "kafka_offset")]
HELD_YOUNG = "young"  # written less than min_age ago
HELD_TAIL = "tail"  # in its partition's recent tail: maybe never committed


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes}m" if minutes else f"{int(value.total_seconds())}s"
    return f"{minutes // 60}h"


@dataclass
class Merge:
    hour: Path
    output: Path
    inputs: list[Path]
    rows: int


@dataclass
class CompactReport:
    dry_run: bool
    merges: list[Merge] = field(default_factory=list)
    recovered: list[Path] = field(default_factory=list)  # contained files deleted
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    # Why files stayed as they are, so a run that merges nothing can say why (issue 16.10):
    open_hours: int = 0  # hours not closed yet (ended less than min_age ago)
    held: Counter = field(default_factory=Counter)  # unmergeable files by HELD_* reason
    min_age: timedelta = timedelta(0)
    tail_window: timedelta = timedelta(0)

    @property
    def files_merged(self) -> int:
        return sum(len(m.inputs) for m in self.merges)

    def idle_reason(self) -> str | None:
        """Why a run merged nothing, in one line; None when it merged something."""
        if self.merges:
            return None
        age, window = _duration(self.min_age), _duration(self.tail_window)
        parts = []
        if self.held[HELD_TAIL]:
            parts.append(
                f"{self.held[HELD_TAIL]} file(s) are in their partition's recent tail (written"
                f" within {window} of its newest file): they may not be committed yet, and"
                " are merged once newer files of the partition are older than that"
            )
        if self.held[HELD_YOUNG]:
            parts.append(f"{self.held[HELD_YOUNG]} file(s) were written less than {age} ago")
        if self.open_hours:
            parts.append(f"{self.open_hours} hour(s) are current or ended less than {age} ago")
        if not parts:
            parts.append("no closed hour holds two or more files of one topic-partition")
        return "nothing merged: " + "; ".join(parts) + " (see --min-age)"


def compact(
    root: Path,
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
    with maintenance_lock(root):
        tails = _tail_starts(root, tail_window)
        for hour in hour_dirs(root):
            if hour.end > now - min_age or hour.start >= current_hour:
                report.open_hours += 1
                continue
            _compact_hour(hour, kind, now, min_age, tails, dry_run, report)
    return report


def _tail_starts(root: Path, window: timedelta) -> dict[tuple[str, int], int]:
    """Per topic-partition: the lowest first offset among its files written in *window*
    before its newest file. Files reaching that offset are never merged."""
    stamped: dict[tuple[str, int], list[tuple[datetime, int]]] = {}
    for data in data_files(root):
        mtime = file_mtime(data.path)
        if mtime is not None:
            stamped.setdefault(data.group, []).append((mtime, data.first))
    tails = {}
    for group, files in stamped.items():
        newest = max(mtime for mtime, _ in files)
        tails[group] = min(first for mtime, first in files if mtime >= newest - window)
    return tails


def _compact_hour(
    hour: HourDir,
    kind: DatasetKind,
    now: datetime,
    min_age: timedelta,
    tails: dict[tuple[str, int], int],
    dry_run: bool,
    report: CompactReport,
) -> None:
    tmps = [p for p in hour.path.glob(".*.tmp") if p.is_file()]
    stale = [p for p in tmps if (m := file_mtime(p)) is not None and now - m >= TMP_GRACE]
    if stale and len(stale) == len(tmps) and not dry_run:
        for path in stale:  # left by a killed run; never renamed, so never visible
            path.unlink(missing_ok=True)
        tmps = []
    if tmps:
        report.skipped.append((hour.path, "write in progress (.tmp file)"))
        return
    groups: dict[tuple[str, int], list[DataFile]] = {}
    for path in hour.path.glob("*.parquet"):
        data = parse_data_file(path)
        if data is not None:
            groups.setdefault(data.group, []).append(data)
    for group, files in sorted(groups.items()):
        files = _recover(files, kind, dry_run, report)
        if files is None:
            continue
        files.sort(key=lambda f: f.first)
        if any(a.last >= b.first for a, b in itertools.pairwise(files)):
            report.skipped.append((hour.path, f"{group[0]}-p{group[1]}: overlapping offsets"))
            continue
        tail = tails.get(group)
        run: list[DataFile] = []
        for data in [*files, None]:
            held = None if data is None else _held(data, now, min_age, tail)
            if data is not None and held is None:
                run.append(data)
                continue
            if held is not None:
                report.held[held] += 1
            if len(run) >= 2:
                _merge(hour, kind, run, dry_run, report)
            run = []


def _held(data: DataFile, now: datetime, min_age: timedelta, tail: int | None) -> str | None:
    """Why this file may not be merged (a ``HELD_*`` reason), or None if it may."""
    mtime = file_mtime(data.path)
    if mtime is None or now - mtime < min_age:
        return HELD_YOUNG
    if tail is not None and data.last >= tail:
        return HELD_TAIL
    return None


def _row_keys(path: Path, kind: DatasetKind) -> Counter:
    table = pq.read_table(path, columns=list(kind.row_key))
    return Counter(zip(*(table.column(name).to_pylist() for name in kind.row_key), strict=True))


def _recover(
    files: list[DataFile], kind: DatasetKind, dry_run: bool, report: CompactReport
) -> list[DataFile] | None:
    """Delete files contained in another file's range whose rows it holds (a compaction
    killed before deleting its inputs). ``None``: leave this group alone."""
    by_size = sorted(files, key=lambda f: (f.first - f.last, f.first))  # widest first
    keep: list[DataFile] = []
    deleted = False
    containers: dict[Path, Counter] = {}
    for data in by_size:
        container = next((k for k in keep if k.contains(data)), None)
        if container is None:
            keep.append(data)
            continue
        if container.path not in containers:
            containers[container.path] = _row_keys(container.path, kind)
        rows = _row_keys(data.path, kind)
        if rows - containers[container.path]:
            report.skipped.append(
                (data.path, f"offsets inside {container.path.name} but rows are not; kept")
            )
            return None
        if not dry_run:
            data.path.unlink(missing_ok=True)
            deleted = True
        report.recovered.append(data.path)
    if deleted:
        fsync_dir(files[0].path.parent)
    return keep


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
        tables = [pq.read_table(data.path) for data in run]
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
    tmp = hour.path / f".{target.name}.tmp"
    try:
        handle = open(tmp, "xb")  # noqa: SIM115 - exclusive: never reuse a tmp not ours
    except FileExistsError:
        report.merges.pop()
        report.skipped.append((hour.path, f"{label}: {tmp.name} exists"))
        return
    try:
        with handle:
            pq.write_table(merged, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        # The data is as old as its newest input: a fresh mtime would put old offsets in
        # the partition's tail and block the next runs.
        stamp = max(data.path.stat().st_mtime for data in run)
        os.utime(tmp, (stamp, stamp))
        os.link(tmp, target)  # unlike rename, never replaces an existing file
    except FileExistsError:
        report.merges.pop()
        report.skipped.append((hour.path, f"{label}: {target.name} appeared meanwhile"))
        return
    except FileNotFoundError:  # an input vanished (retention, takeover): next run
        report.merges.pop()
        report.skipped.append((hour.path, f"{label}: an input file vanished"))
        return
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(hour.path)
    if pq.ParquetFile(target).metadata.num_rows != len(merged):
        raise MaintenanceError(f"{target} does not hold the merged rows; inputs kept")
    for data in run:
        data.path.unlink(missing_ok=True)
    fsync_dir(hour.path)
