"""Where the three datasets live and which of their files a query has to read.

The results dataset is the directory the worker writes (``EVALSTREAM_PARQUET_DIR``); the
``traces`` and ``spans`` datasets are its siblings (``evalstream-data/parquet`` ->
``evalstream-data/traces``, ``evalstream-data/spans``), so ``pd.read_parquet`` of the results
directory keeps reading the results only.

Files are listed here, in Python, and handed to DuckDB as an explicit list: a time-range filter
drops whole ``date=/hour=`` partitions before DuckDB opens a single footer, and files that
appear while the UI runs are picked up by the next request.

The datasets may be in an object store (``s3://bucket/prefix``): files are then listed with
one LIST per dataset (:func:`pipeline.sinks.dataset.entries`), named to DuckDB by their URIs,
and read through the same pyarrow filesystem, which :func:`fsspec_filesystem` hands to
DuckDB (DuckDB's own S3 support is an extension it would download at run time).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import PurePath

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.sinks.dataset import RESULTS, SESSIONS, SPANS, TRACES, dataset_roots, entries
from pipeline.sinks.dataset import _hour_start as hour_start_of
from pipeline.sinks.storage import Location, fsspec_filesystem, locate

HOUR = timedelta(hours=1)

__all__ = ["DataFile", "Dataset", "Datasets", "fsspec_filesystem", "in_range"]


@dataclass(frozen=True)
class DataFile:
    path: str
    """What DuckDB reads: a local path, or the object's URI (``s3://bucket/key``)."""
    hour_start: datetime
    """Start of the ``date=/hour=`` partition the file is in (UTC)."""
    signature: tuple[int, int] = (0, 0)
    """(size, mtime ns): a replayed file replaced under the same name gets a new one."""


@dataclass(frozen=True)
class Dataset:
    """One Hive-partitioned Parquet dataset (``date=YYYY-MM-DD/hour=HH/*.parquet``)."""

    name: str
    root: Location

    def files(self) -> list[DataFile]:
        """Every data file, oldest partition first (dot- and underscore-files are skipped:
        temporary names of files being written)."""
        if self.root.is_local:
            return _local_files(self.root.path)
        out = []
        for entry in entries(self.root):
            name = entry.path.name
            if name.endswith(".parquet") and not name.startswith((".", "_")):
                signature = (entry.info.size or 0, entry.info.mtime_ns or 0)
                out.append(DataFile(entry.path.uri, entry.hour_start, signature))
        return sorted(out, key=lambda f: (f.hour_start, f.path))

    def schema(self, path: str) -> pa.Schema:
        """The Parquet schema of one of :meth:`files`."""
        inner = path if self.root.is_local else path.split("://", 1)[1]
        return pq.read_schema(inner, filesystem=self.root.fs)


_hour_of_dirs = lru_cache(maxsize=100_000)(hour_start_of)
"""(``date=…``, ``hour=…``) directory names -> the hour, parsed once (``strptime`` per file
was most of a listing's time)."""


def _scan(path: str) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as found:
            return list(found)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _local_files(root: str) -> list[DataFile]:
    """:meth:`Dataset.files` on local disk: the files directly inside well-named
    ``date=…/hour=…`` directories (what :func:`pipeline.sinks.dataset.entries` finds), from
    ``scandir`` with one ``stat`` a file."""
    out = []
    for day in _scan(root):
        if not day.is_dir():
            continue
        for hour in _scan(day.path):
            start = _hour_of_dirs(day.name, hour.name) if hour.is_dir() else None
            if start is None:
                continue
            for entry in _scan(hour.path):
                name = entry.name
                if name.endswith(".parquet") and not name.startswith((".", "_")):
                    try:
                        if not entry.is_file():
                            continue
                        stat = entry.stat()
                    except FileNotFoundError:  # removed meanwhile (compaction, retention)
                        continue
                    signature = (stat.st_size, stat.st_mtime_ns)
                    out.append(DataFile(os.path.abspath(entry.path), start, signature))
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
    results: Dataset  # or its DeltaDataset subclass (pipeline.tools.ui.delta)
    traces: Dataset
    spans: Dataset
    sessions: Dataset

    @classmethod
    def beside(cls, results_dir: str | PurePath | Location) -> Datasets:
        """The results directory (or object store prefix) and its ``traces``, ``spans`` and
        ``sessions`` siblings (Delta tables where the root is one: :mod:`pipeline.tools.ui.delta`;
        the sessions dataset is always Parquet files)."""
        from pipeline.sinks.delta_table import is_delta_table
        from pipeline.tools.ui.delta import DeltaDataset

        roots = dataset_roots(locate(results_dir))
        kind = DeltaDataset if is_delta_table(roots[RESULTS]) else Dataset
        return cls(
            kind("results", roots[RESULTS]),
            kind("traces", roots[TRACES]),
            kind("spans", roots[SPANS]),
            Dataset("sessions", roots[SESSIONS]),
        )

    @property
    def remote(self) -> Location | None:
        """The object store location of the datasets; ``None`` on local disk."""
        root = self.results.root
        return None if root.is_local else root
