"""``evalstream compact`` and ``evalstream retention`` on a Delta table
(``EVALSTREAM_TABLE_FORMAT=delta``): Delta's own OPTIMIZE, DELETE and VACUUM.

* **compact**: ``optimize.compact`` of every closed hour partition (its end more than
  ``min_age`` ago) that has two or more live files, one partition per commit; then VACUUM.
  Unlike the Parquet compaction it needs no tail rule and no crash recovery: an optimize is
  one Delta commit (the merged files and the removal of their inputs appear together, or
  not at all), and it does not conflict with a worker's appends (delta-rs rebases them).
* **retention**: one ``DELETE`` of every hour partition that ended more than ``older_than``
  before ``now`` (a predicate on the ``date``/``hour`` partition columns only, so whole files
  are dropped, nothing is rewritten; the current hour is never touched); then VACUUM.
* **VACUUM** deletes the files that the table stopped using at least the table's
  ``delta.deletedFileRetentionDuration`` ago (7 days unless set): readers of a recent version
  (time travel, a query in flight) keep working. ``vacuum_retention`` overrides it (tests;
  a shorter one than the table's is allowed only here, on purpose).

Both hold ``<root>/.maintenance.lock`` on a local table, like the Parquet tools (a hidden
file: Delta readers and VACUUM ignore it).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.clock import resolve_now
from pipeline.exceptions import SinkError
from pipeline.sinks.delta_table import LiveFile, live_files, open_table, table_uri
from pipeline.tools.maintenance.layout import MaintenanceError, maintenance_lock


@dataclass
class DeltaVacuum:
    dry_run: bool
    files: list[str] = field(default_factory=list)


@dataclass
class DeltaCompactReport:
    root: str
    dry_run: bool
    partitions: list[tuple[str, str, int]] = field(default_factory=list)  # date, hour, files
    files_removed: int = 0
    files_added: int = 0
    vacuum: DeltaVacuum | None = None

    def lines(self, name: str) -> list[str]:
        verb = "would compact" if self.dry_run else "compacted"
        out = [f"{verb} date={d}/hour={h}: {n} files" for d, h, n in self.partitions]
        if self.vacuum is not None:
            out.append(_vacuum_line(self.vacuum))
        out.append(
            f"{name} (Delta {self.root}): {verb} {len(self.partitions)} partition(s);"
            f" {self.files_removed} file(s) replaced by {self.files_added}"
        )
        return out


@dataclass
class DeltaRetentionReport:
    root: str
    cutoff: datetime
    dry_run: bool
    partitions: list[tuple[str, str]] = field(default_factory=list)
    files: int = 0
    rows: int = 0
    bytes: int = 0
    vacuum: DeltaVacuum | None = None

    def lines(self, name: str) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        out = [f"{verb} date={d}/hour={h}" for d, h in self.partitions]
        if self.vacuum is not None:
            out.append(_vacuum_line(self.vacuum))
        out.append(
            f"{name} (Delta {self.root}): {verb} {len(self.partitions)} partition(s),"
            f" {self.files} file(s), {self.rows:,} row(s), {self.bytes:,} bytes older than"
            f" {self.cutoff:%Y-%m-%d %H:%M} UTC"
        )
        return out


def _vacuum_line(vacuum: DeltaVacuum) -> str:
    verb = "would vacuum" if vacuum.dry_run else "vacuumed"
    return f"{verb} {len(vacuum.files)} file(s) no longer in the table"


def compact_delta(
    root: str | Path,
    min_age: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    vacuum_retention: timedelta | None = None,
    storage_options: dict[str, str] | None = None,
) -> DeltaCompactReport:
    """Optimize the closed hours with more than one live file, then vacuum."""
    now = resolve_now(now)
    report = DeltaCompactReport(table_uri(root), dry_run)
    with _locked(root):
        table = _open(root, storage_options)
        counts = Counter((f.date, f.hour) for f in live_files(table) if _ended(f, now, min_age))
        for (date, hour), files in sorted(counts.items()):
            if files < 2:
                continue
            report.partitions.append((date, hour, files))
            if dry_run:
                continue
            metrics = _run(
                table.optimize.compact,
                partition_filters=[("date", "=", date), ("hour", "=", hour)],
            )
            report.files_removed += int(metrics.get("numFilesRemoved", 0))
            report.files_added += int(metrics.get("numFilesAdded", 0))
        report.vacuum = _vacuum(table, dry_run, vacuum_retention)
    return report


def retention_delta(
    root: str | Path,
    older_than: timedelta,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    vacuum_retention: timedelta | None = None,
    storage_options: dict[str, str] | None = None,
) -> DeltaRetentionReport:
    """Delete the hour partitions that ended more than ``older_than`` ago, then vacuum."""
    if older_than <= timedelta(0):
        raise MaintenanceError("retention age must be positive")
    now = resolve_now(now)
    cutoff = now - older_than
    report = DeltaRetentionReport(table_uri(root), cutoff, dry_run)
    first_kept = cutoff.replace(minute=0, second=0, microsecond=0)  # an hour before it ended
    date, hour = first_kept.strftime("%Y-%m-%d"), first_kept.strftime("%H")
    with _locked(root):
        table = _open(root, storage_options)
        expired = [f for f in live_files(table) if (f.date, f.hour) < (date, hour)]
        report.partitions = sorted({(f.date, f.hour) for f in expired})
        report.files = len(expired)
        report.rows = sum(f.rows or 0 for f in expired)
        report.bytes = sum(f.size for f in expired)
        if expired and not dry_run:
            _run(table.delete, f"date < '{date}' OR (date = '{date}' AND hour < '{hour}')")
        report.vacuum = _vacuum(table, dry_run, vacuum_retention)
    return report


def _ended(file: LiveFile, now: datetime, min_age: timedelta) -> bool:
    start = file.hour_start
    return start is not None and start + timedelta(hours=1) <= now - min_age


def _vacuum(table: Any, dry_run: bool, retention: timedelta | None) -> DeltaVacuum:
    if retention is None:
        files = _run(table.vacuum, dry_run=dry_run)
    else:
        hours = int(retention.total_seconds() // 3600)
        files = _run(
            table.vacuum, retention_hours=hours, dry_run=dry_run, enforce_retention_duration=False
        )
    return DeltaVacuum(dry_run, sorted(files))


def _open(root: str | Path, storage_options: dict[str, str] | None) -> Any:
    try:
        return open_table(root, storage_options)
    except SinkError as exc:
        raise MaintenanceError(str(exc)) from None


def _run(operation: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return operation(*args, **kwargs)
    except Exception as exc:  # deltalake's errors: one line, the table left as it was
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        name = getattr(operation, "__name__", "operation")
        raise MaintenanceError(f"Delta {name}: {first}") from None


@contextlib.contextmanager
def _locked(root: str | Path) -> Iterator[None]:
    if "://" in str(root):  # object storage: Delta's commit protocol is the only guard
        yield
        return
    with maintenance_lock(Path(root)):
        yield
