"""Where the three datasets live and which of their files a query has to read.

The results dataset is the directory the worker writes (``EVALSTREAM_PARQUET_DIR``); the
``traces`` and ``spans`` datasets are its siblings (``evalstream-data/parquet`` ->
``evalstream-data/traces``, ``evalstream-data/spans``), so ``pd.read_parquet`` of the results
directory keeps reading the results only.

Files are listed here, in Python, and handed to DuckDB as an explicit list: a time-range filter
drops whole ``date=/hour=`` partitions before DuckDB opens a single footer, and files that
appear while the UI runs are picked up by the next request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class DataFile:
    path: str
    hour_start: datetime
    """Start of the ``date=/hour=`` partition the file is in (UTC)."""
    signature: tuple[int, int] = (0, 0)
    """(size, mtime ns): a replayed file replaced under the same name gets a new one."""


def _partition_start(date_dir: str, hour_dir: str) -> datetime | None:
    try:
        day = datetime.strptime(date_dir.removeprefix("date="), "%Y-%m-%d")
        return day.replace(hour=int(hour_dir.removeprefix("hour=")), tzinfo=UTC)
    except ValueError:
        return None


def _dirs(path: str, prefix: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as entries:
            return [e for e in entries if e.name.startswith(prefix) and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


@dataclass(frozen=True)
class Dataset:
    """One Hive-partitioned Parquet dataset (``date=YYYY-MM-DD/hour=HH/*.parquet``)."""

    name: str
    root: Path

    def files(self) -> list[DataFile]:
        """Every data file, oldest partition first (dot- and underscore-files are skipped:
        temporary names of files being written)."""
        out = []
        for day in _dirs(str(self.root), "date="):
            for hour in _dirs(day.path, "hour="):
                start = _partition_start(day.name, hour.name)
                if start is None:
                    continue
                with os.scandir(hour.path) as entries:
                    for e in entries:
                        if e.name.endswith(".parquet") and not e.name.startswith((".", "_")):
                            stat = e.stat()
                            out.append(DataFile(e.path, start, (stat.st_size, stat.st_mtime_ns)))
        return sorted(out, key=lambda f: (f.hour_start, f.path))


def in_range(
    files: list[DataFile],
    since: datetime | None = None,
    until: datetime | None = None,
    hours: frozenset[datetime] | None = None,
) -> list[DataFile]:
    """The files whose partition can hold timestamps in [since, until] (and is in ``hours``)."""
    return [
        f
        for f in files
        if not (since and f.hour_start + HOUR <= since)
        and not (until and f.hour_start > until)
        and (hours is None or f.hour_start in hours)
    ]


@dataclass(frozen=True)
class Datasets:
    results: Dataset
    traces: Dataset
    spans: Dataset
    sessions: Dataset

    @classmethod
    def beside(cls, results_dir: Path) -> Datasets:
        """The results directory and its ``traces``, ``spans`` and ``sessions`` siblings."""
        results_dir = Path(results_dir)
        parent = results_dir.parent
        return cls(
            Dataset("results", results_dir),
            Dataset("traces", parent / "traces"),
            Dataset("spans", parent / "spans"),
            Dataset("sessions", parent / "sessions"),
        )
