"""What retention and compaction share: the lock, durations, errors (and, re-exported, the
dataset layout of :mod:`pipeline.sinks.dataset`). Roots may be local or in an object store.

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
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.fs as pafs

from pipeline.exceptions import PipelineError
from pipeline.sinks import objects
from pipeline.sinks.dataset import DataFile, HourDir, Root, hour_dirs, parse_data_file
from pipeline.sinks.storage import Location, locate, mtime_of

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

LOCK_STALE = timedelta(hours=6)
"""A lock object (object stores) older than this is the leftover of a killed run."""

_DURATION = re.compile(r"^\s*(\d+)\s*([wdhms])\s*$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


class MaintenanceError(PipelineError):
    """Bad input for a maintenance command (e.g. a duration), or the dataset is busy."""


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``30s`` as a positive ``timedelta``."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise MaintenanceError(
            f"invalid duration {text!r}: use a positive whole number and a unit"
            " (s, m, h, d or w), e.g. 90m, 12h, 30d"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def file_mtime(path: Location) -> datetime | None:
    """When ``path`` was last written (UTC); ``None`` if it is gone."""
    info = path.info()
    return None if info.type == pafs.FileType.NotFound else mtime_of(info)


def fsync_dir(directory: Location) -> None:
    """Make a directory's entries durable (local disk; an object store has no directories)."""
    if directory.is_local:
        objects.fsync_dir(directory.path)


@contextlib.contextmanager
def maintenance_lock(root: Root) -> Iterator[None]:
    """Hold ``<root>/.maintenance.lock``; raise ``MaintenanceError`` if another run has it.

    Local disk: an ``flock`` (released by the kernel when the process dies). Object store:
    a lock object created with a conditional write (it fails if the object exists) and
    deleted at the end; one older than ``LOCK_STALE`` is taken for the leftover of a killed
    run and replaced.
    """
    root = locate(root)
    if root.is_local:
        with _local_lock(Path(root.path)):
            yield
        return
    root.check()
    lock = root / LOCK_NAME
    body = f"{socket.gethostname()} pid {os.getpid()}".encode()
    if not objects.write_bytes(lock, body, replace=False):
        written = file_mtime(lock)
        if written is not None and datetime.now(UTC) - written < LOCK_STALE:
            raise MaintenanceError(
                f"another retention or compact run holds {lock} (since {written:%Y-%m-%d %H:%M}"
                f" UTC; it is taken for stale after {LOCK_STALE})"
            )
        lock.delete()
        if not objects.write_bytes(lock, body, replace=False):
            raise MaintenanceError(f"another retention or compact run holds {lock}")
    try:
        yield
    finally:
        lock.delete()


@contextlib.contextmanager
def _local_lock(root: Path) -> Iterator[None]:
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
