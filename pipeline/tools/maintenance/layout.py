"""What retention and compaction share: the lock, durations, errors (and, re-exported, the
dataset layout of :mod:`pipeline.sinks.dataset`).

Both work on the Hive layout the sink writes (``date=YYYY-MM-DD/hour=HH/``) and judge an hour
by its directory name, never by file times. Both hold ``<root>/.maintenance.lock`` so two
maintenance runs never overlap; the live worker takes no lock and needs none (see
:mod:`pipeline.tools.maintenance.compaction`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.exceptions import PipelineError
from pipeline.sinks.dataset import DataFile, HourDir, hour_dirs, parse_data_file

__all__ = [
    "LOCK_NAME",
    "TMP_GRACE",
    "DataFile",
    "HourDir",
    "MaintenanceError",
    "file_mtime",
    "fsync_dir",
    "hour_dirs",
    "maintenance_lock",
    "parse_data_file",
    "parse_duration",
]

TMP_GRACE = timedelta(hours=1)
"""A ``.tmp`` file younger than this is taken for a write in progress."""

LOCK_NAME = ".maintenance.lock"

_DURATION = re.compile(r"^\s*(\d+)\s*([wdhm])\s*$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


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
