"""Retention of the Parquet dataset (``evalstream retention``): drop old hours.

Retention deletes every hour whose *end* lies before ``now - older_than``, then the date
directories left empty. The current hour (and any future one) is never touched. A ``.tmp``
file younger than ``TMP_GRACE`` may be a write in progress: it is left alone (and so is its
directory); the next run takes it.

The root may be in an object store, where directories are only key prefixes: deleting an
hour's objects deletes the hour.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.clock import resolve_now
from pipeline.sinks.dataset import Entry, Root, entries
from pipeline.sinks.storage import Location, StorageError, locate, mtime_of
from pipeline.tools.maintenance.layout import (
    TMP_GRACE,
    HourDir,
    MaintenanceError,
    hour_dirs,
    maintenance_lock,
)


@dataclass
class ExpiredHour:
    path: Location
    files: int
    bytes: int
    kept: list[Location] = field(default_factory=list)  # writes in progress, left for next run


@dataclass
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    hours: list[ExpiredHour] = field(default_factory=list)
    removed_date_dirs: list[Location] = field(default_factory=list)

    @property
    def files(self) -> int:
        return sum(h.files for h in self.hours)

    @property
    def bytes(self) -> int:
        return sum(h.bytes for h in self.hours)


def apply_retention(
    root: Root, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False
) -> RetentionReport:
    """Delete the hours that ended more than *older_than* before *now* (UTC)."""
    if older_than <= timedelta(0):
        raise MaintenanceError("retention age must be positive")
    now = resolve_now(now)
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    report = RetentionReport(cutoff=now - older_than, dry_run=dry_run)
    root = locate(root)
    with maintenance_lock(root):
        try:
            _apply(root, now, current_hour, dry_run, report)
        except StorageError as exc:
            raise MaintenanceError(str(exc)) from None
    return report


def _apply(
    root: Location, now: datetime, current_hour: datetime, dry_run: bool, report: RetentionReport
) -> None:
    listed: dict[datetime, list[Entry]] = {}
    for entry in entries(root):
        listed.setdefault(entry.hour_start, []).append(entry)
    hours = hour_dirs(root)
    for hour in hours:
        if hour.end > report.cutoff or hour.start >= current_hour:
            continue
        report.hours.append(_expire_hour(hour, listed.get(hour.start, []), now, dry_run))
    expired = {h.path for h in report.hours}
    date_dirs = {h.path.parent for h in report.hours}
    for date_dir in sorted(date_dirs, key=str):
        emptied = all(h.path in expired for h in hours if h.path.parent == date_dir)
        if dry_run or not root.is_local:
            kept = any(h.kept for h in report.hours if h.path.parent == date_dir)
            if emptied and not kept:
                report.removed_date_dirs.append(date_dir)
            continue
        with contextlib.suppress(OSError):  # not empty: a newer hour, or a kept tmp
            os.rmdir(date_dir.path)
            report.removed_date_dirs.append(date_dir)


def _expire_hour(hour: HourDir, files: list[Entry], now: datetime, dry_run: bool) -> ExpiredHour:
    expired = ExpiredHour(hour.path, 0, 0)
    for entry in sorted(files, key=lambda e: e.path.path):
        if entry.path.name.endswith(".tmp"):
            mtime = mtime_of(entry.info)
            if mtime is not None and now - mtime < TMP_GRACE:
                expired.kept.append(entry.path)
                continue
        if not dry_run and not entry.path.delete():
            continue
        expired.files += 1
        expired.bytes += entry.info.size or 0
    if hour.path.is_local:
        if os.path.isdir(hour.path.path):
            for name in sorted(os.listdir(hour.path.path)):
                sub = hour.path / name
                if os.path.isdir(sub.path):
                    expired.kept.append(sub)
        if not dry_run and not expired.kept:
            with contextlib.suppress(OSError):  # a file appeared meanwhile: next run
                os.rmdir(hour.path.path)
    return expired
