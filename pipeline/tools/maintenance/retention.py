"""Retention of the Parquet dataset (``evalstream retention``): drop old hours.

Retention deletes every hour whose *end* lies before ``now - older_than``, then the date
directories left empty. The current hour (and any future one) is never touched. A ``.tmp``
file younger than ``TMP_GRACE`` may be a write in progress: it is left alone (and so is its
directory); the next run takes it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.clock import resolve_now
from pipeline.tools.maintenance.layout import (
    TMP_GRACE,
    HourDir,
    MaintenanceError,
    file_mtime,
    hour_dirs,
    maintenance_lock,
)


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
    now = resolve_now(now)
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
            mtime = file_mtime(entry)
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
