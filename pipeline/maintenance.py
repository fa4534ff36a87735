"""Maintenance of the Parquet dataset: retention (drop old hours) and compaction.

Both work on the Hive layout the sink writes (``date=YYYY-MM-DD/hour=HH/``) and judge an
hour by its directory name, never by file times. Both hold ``<root>/.maintenance.lock`` so two
maintenance runs never overlap; the live worker takes no lock and needs none (see below).

Retention deletes every hour whose *end* lies before ``now - older_than``, then the date
directories left empty. The current hour (and any future one) is never touched. A ``.tmp``
file younger than ``TMP_GRACE`` may be a write in progress: it is left alone (and so is its
directory); the next run takes it.

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

import contextlib
import fcntl
import itertools
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.exceptions import PipelineError
from pipeline.sinks.parquet import file_name

TMP_GRACE = timedelta(hours=1)
"""A ``.tmp`` file younger than this is taken for a write in progress."""

LOCK_NAME = ".maintenance.lock"
ROW_KEY = ("trace_id", "evaluator", "kafka_topic", "kafka_partition", "kafka_offset")
SORT_KEY = [(name, "ascending") for name in ("kafka_topic", "kafka_partition", "kafka_offset")]

_DURATION = re.compile(r"^\s*(\d+)\s*([wdhm])\s*$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_HOUR_DIR = re.compile(r"^hour=(\d{1,2})$")
_DATA_FILE = re.compile(
    r"^(?P<topic>.+)-p(?P<partition>\d+)-o(?P<first>\d+)-(?P<last>\d+)\.parquet$"
)


class MaintenanceError(PipelineError):
    """Bad input for a maintenance command (e.g. a duration), or the dataset is busy."""


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w`` as a positive ``timedelta``."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise MaintenanceError(
            f"invalid duration {text!r}: use a positive whole number and a unit"
            " (m, h, d or w), e.g. 90m, 12h, 30d"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class HourDir:
    """One ``date=…/hour=…`` directory and the hour it covers (UTC)."""

    path: Path
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)


@dataclass(frozen=True)
class DataFile:
    """A data file and what its name says: topic, partition, offset range."""

    path: Path
    topic: str
    partition: int
    first: int
    last: int

    @property
    def group(self) -> tuple[str, int]:
        return self.topic, self.partition

    def contains(self, other: DataFile) -> bool:
        return self.first <= other.first and other.last <= self.last


def parse_data_file(path: Path) -> DataFile | None:
    match = _DATA_FILE.match(path.name)
    if not match:
        return None
    return DataFile(
        path,
        match["topic"],
        int(match["partition"]),
        int(match["first"]),
        int(match["last"]),
    )


def hour_dirs(root: Path) -> list[HourDir]:
    """Every well-named hour directory under *root*, oldest first; others are ignored."""
    found = []
    for date_dir in Path(root).glob("date=*"):
        date_match = _DATE_DIR.match(date_dir.name)
        if not date_match or not date_dir.is_dir():
            continue
        for hour_dir in date_dir.glob("hour=*"):
            hour_match = _HOUR_DIR.match(hour_dir.name)
            if not hour_match or not hour_dir.is_dir() or int(hour_match[1]) > 23:
                continue
            try:
                day = datetime.strptime(date_match[1], "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                continue
            found.append(HourDir(hour_dir, day + timedelta(hours=int(hour_match[1]))))
    return sorted(found, key=lambda h: h.start)


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def maintenance_lock(root: Path) -> Iterator[None]:
    """Hold ``<root>/.maintenance.lock``; raise ``MaintenanceError`` if another run has it."""
    root = Path(root)
    if not root.is_dir():
        raise MaintenanceError(f"parquet dir {root} does not exist")
    with open(root / LOCK_NAME, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MaintenanceError(
                f"another retention or compact run holds {root / LOCK_NAME}"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- retention


@dataclass
class ExpiredHour:
    path: Path
    files: int
    bytes: int
    kept: list[Path] = field(default_factory=list)  # writes in progress, left for next run


@dataclass
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    hours: list[ExpiredHour] = field(default_factory=list)
    removed_date_dirs: list[Path] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(h.files for h in self.hours)

    @property
    def bytes(self) -> int:
        return sum(h.bytes for h in self.hours)


def apply_retention(
    root: Path, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Delete the hours that ended more than *older_than* before *now* (UTC)."""
    if older_than <= timedelta(0):
        raise MaintenanceError("retention age must be positive")
    now = _now(now)
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    report = RetentionReport(cutoff=now - older_than, dry_run=dry_run)
    with maintenance_lock(root):
        for hour in hour_dirs(root):
            if hour.end > report.cutoff or hour.start >= current_hour:
                continue
            report.hours.append(_expire_hour(hour, now, dry_run))
        date_dirs = {h.path.parent for h in report.hours}
        for date_dir in sorted(date_dirs):
            if dry_run:
                if all(p in {h.path for h in report.hours} for p in date_dir.iterdir()):
                    report.removed_date_dirs.append(date_dir)
                continue
            with contextlib.suppress(OSError):  # not empty: a newer hour, or a kept tmp
                date_dir.rmdir()
                report.removed_date_dirs.append(date_dir)
    return report


def _expire_hour(hour: HourDir, now: datetime, dry_run: bool) -> ExpiredHour:
    expired = ExpiredHour(hour.path, 0, 0)
    for entry in sorted(hour.path.iterdir()):
        if not entry.is_file():
            expired.kept.append(entry)
            continue
        if entry.name.endswith(".tmp"):
            mtime = _mtime(entry)
            if mtime is None:
                continue
            if now - mtime < TMP_GRACE:
                expired.kept.append(entry)
                continue
        try:
            size = entry.stat().st_size
            if not dry_run:
                entry.unlink()
        except FileNotFoundError:
            continue
        expired.files += 1
        expired.bytes += size
    if not dry_run and not expired.kept:
        with contextlib.suppress(OSError):  # a file appeared meanwhile: next run
            hour.path.rmdir()
    return expired


# --------------------------------------------------------------------------- compaction


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

    @property
    def files_merged(self) -> int:
        return sum(len(m.inputs) for m in self.merges)


def compact(
    root: Path,
    min_age: timedelta = timedelta(hours=2),
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    tail_window: timedelta | None = None,
) -> CompactReport:
    """Merge the small files of closed hours; see the module docstring for the rules."""
    if min_age <= timedelta(0):
        raise MaintenanceError("compaction min age must be positive")
    now = _now(now)
    tail_window = min_age if tail_window is None else tail_window
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    report = CompactReport(dry_run=dry_run)
    with maintenance_lock(root):
        tails = _tail_starts(root, tail_window)
        for hour in hour_dirs(root):
            if hour.end > now - min_age or hour.start >= current_hour:
                continue
            _compact_hour(hour, now, min_age, tails, dry_run, report)
    return report


def _tail_starts(root: Path, window: timedelta) -> dict[tuple[str, int], int]:
    """Per topic-partition: the lowest first offset among its files written in *window*
    before its newest file. Files reaching that offset are never merged."""
    stamped: dict[tuple[str, int], list[tuple[datetime, int]]] = {}
    for path in Path(root).glob("date=*/hour=*/*.parquet"):
        data = parse_data_file(path)
        mtime = _mtime(path)
        if data is not None and mtime is not None:
            stamped.setdefault(data.group, []).append((mtime, data.first))
    tails = {}
    for group, files in stamped.items():
        newest = max(mtime for mtime, _ in files)
        tails[group] = min(first for mtime, first in files if mtime >= newest - window)
    return tails


def _compact_hour(
    hour: HourDir,
    now: datetime,
    min_age: timedelta,
    tails: dict[tuple[str, int], int],
    dry_run: bool,
    report: CompactReport,
) -> None:
    tmps = [p for p in hour.path.glob(".*.tmp") if p.is_file()]
    stale = [p for p in tmps if (m := _mtime(p)) is not None and now - m >= TMP_GRACE]
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
        files = _recover(files, dry_run, report)
        if files is None:
            continue
        files.sort(key=lambda f: f.first)
        if any(a.last >= b.first for a, b in itertools.pairwise(files)):
            report.skipped.append((hour.path, f"{group[0]}-p{group[1]}: overlapping offsets"))
            continue
        tail = tails.get(group)
        run: list[DataFile] = []
        for data in [*files, None]:
            if data is not None and _mergeable(data, now, min_age, tail):
                run.append(data)
                continue
            if len(run) >= 2:
                _merge(hour, run, dry_run, report)
            run = []


def _mergeable(data: DataFile, now: datetime, min_age: timedelta, tail: int | None) -> bool:
    mtime = _mtime(data.path)
    if mtime is None or now - mtime < min_age:
        return False
    return tail is None or data.last < tail


def _row_keys(path: Path) -> Counter:
    table = pq.read_table(path, columns=list(ROW_KEY))
    return Counter(zip(*(table.column(name).to_pylist() for name in ROW_KEY), strict=True))


def _recover(files: list[DataFile], dry_run: bool, report: CompactReport) -> list[DataFile] | None:
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
            containers[container.path] = _row_keys(container.path)
        rows = _row_keys(data.path)
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
        _fsync_dir(files[0].path.parent)
    return keep


def _merge(hour: HourDir, run: list[DataFile], dry_run: bool, report: CompactReport) -> None:
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
    stamps = merged.column("timestamp")
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
    _fsync_dir(hour.path)
    if pq.ParquetFile(target).metadata.num_rows != len(merged):
        raise MaintenanceError(f"{target} does not hold the merged rows; inputs kept")
    for data in run:
        data.path.unlink(missing_ok=True)
    _fsync_dir(hour.path)
