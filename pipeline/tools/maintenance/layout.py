"""What retention and compaction share: the dataset layout, the lock, durations, errors.

Both work on the Hive layout the sink writes (``date=YYYY-MM-DD/hour=HH/``) and judge an
hour by its directory name, never by file times. Both hold ``<root>/.maintenance.lock`` so two
maintenance runs never overlap; the live worker takes no lock and needs none (see
:mod:`pipeline.tools.maintenance.compaction`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.exceptions import PipelineError

TMP_GRACE = timedelta(hours=1)
"""A ``.tmp`` file younger than this is taken for a write in progress."""

LOCK_NAME = ".maintenance.lock"

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


def file_mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return None


def fsync_dir(directory: Path) -> None:
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
