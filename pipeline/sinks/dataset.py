"""The layout of the Parquet dataset, owned here and nowhere else: partition directories,
data file names, and reading them back.

``<root>/date=YYYY-MM-DD/hour=HH/<topic>-p<P>-o<first>-<last>.parquet``: Hive partitions of
the trace's event time (UTC), and a name that says which source topic-partition and offset
range (12 digits, so names sort by offset) the file holds. The worker's sink writes it,
backfill writes it with a ``backfill-<label>`` topic, retention and compaction read it; all
build and parse names with the functions below.

The ``traces`` and ``spans`` datasets (issue 17) have the same layout and the same file names
(one file per dataset for each flush of a scored-topic offset range) and live beside the
results: ``evalstream-data/parquet`` -> ``evalstream-data/traces``, ``evalstream-data/spans``
(siblings, so ``pd.read_parquet`` of the results directory keeps reading results only).

Every root is a :class:`~pipeline.sinks.storage.Location`: a local directory or a prefix in an
object store (``s3://bucket/evalstream/parquet`` -> ``s3://bucket/evalstream/traces``). The
functions here take a root as a string, a ``Path`` or a ``Location``, and list files with one
recursive listing of the root (one LIST of the prefix on an object store, where directories
are only key prefixes). A file is found by its key, never by a directory entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

import pyarrow.fs as pafs

from pipeline.sinks.storage import Location, locate, mtime_of

_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_HOUR_DIR = re.compile(r"^hour=(\d{1,2})$")
_DATA_FILE = re.compile(
    r"^(?P<topic>.+)-p(?P<partition>\d+)-o(?P<first>\d+)-(?P<last>\d+)\.parquet$"
)

Root = str | PurePath | Location


@dataclass(frozen=True)
class DatasetKind:
    """What maintenance needs to know of a dataset: the column its hour comes from, and the
    columns that tell its rows apart (to check a merged file holds a leftover's rows)."""

    name: str
    time_column: str
    row_key: tuple[str, ...]


_SOURCE = ("kafka_topic", "kafka_partition", "kafka_offset")
RESULTS = DatasetKind("results", "timestamp", ("trace_id", "evaluator", *_SOURCE))
TRACES = DatasetKind("traces", "timestamp", ("trace_id", "trace_version", *_SOURCE))
SPANS = DatasetKind("spans", "trace_timestamp", ("trace_id", "span_id", *_SOURCE))
SESSIONS = DatasetKind(
    "sessions", "first_trace_time", ("session_id", "session_version", "evaluator", *_SOURCE)
)
"""One row per scored session x session evaluator (docs/sessions.md), from the scored-sessions
topic; partitioned by the session's first trace time."""


def dataset_roots(results_root: Root, settings: object = None) -> dict[DatasetKind, Location]:
    """The root of each dataset, given the results dataset's (``EVALSTREAM_PARQUET_DIR``)."""
    root = locate(results_root, settings)
    parent = root.parent
    if root.name in (TRACES.name, SPANS.name, SESSIONS.name):
        raise ValueError(f"the results dataset cannot be named {root.name!r}: {parent}")
    return {
        RESULTS: root,
        TRACES: parent / "traces",
        SPANS: parent / "spans",
        SESSIONS: parent / "sessions",
    }


def partition_of(timestamp: str) -> tuple[str, str]:
    """The (date, hour) partition of an ISO-8601 UTC timestamp ("2026-11-25T14:05:09Z")."""
    return timestamp[:10], timestamp[11:13]


def partition_dir(root: Root, date: str, hour: str) -> Location:
    return locate(root) / f"date={date}" / f"hour={hour}"


def file_name(topic: str, partition: int, first: int, last: int) -> str:
    return f"{topic}-p{partition}-o{first:012d}-{last:012d}.parquet"


@dataclass(frozen=True)
class DataFile:
    """A data file and what its name says: topic, partition, offset range (and, from the
    listing that found it, its size and modification time)."""

    path: Location
    topic: str
    partition: int
    first: int
    last: int
    size: int | None = None
    mtime: datetime | None = None

    @property
    def group(self) -> tuple[str, int]:
        return self.topic, self.partition

    def contains(self, other: DataFile) -> bool:
        return self.first <= other.first and other.last <= self.last

    def overlaps(self, first: int, last: int) -> bool:
        return self.first <= last and first <= self.last


def parse_data_file(path: Root, info: pafs.FileInfo | None = None) -> DataFile | None:
    """``None`` for a name this layout does not write (temporary files, strays)."""
    location = locate(path)
    match = _DATA_FILE.match(location.name)
    if not match:
        return None
    return DataFile(
        location,
        match["topic"],
        int(match["partition"]),
        int(match["first"]),
        int(match["last"]),
        None if info is None else info.size,
        None if info is None else mtime_of(info),
    )


@dataclass(frozen=True)
class Entry:
    """A file below a dataset root, in a well-named hour: where, which hour, what listing
    said of it."""

    path: Location
    hour_start: datetime
    info: pafs.FileInfo


def _hour_start(date_part: str, hour_part: str) -> datetime | None:
    date_match, hour_match = _DATE_DIR.match(date_part), _HOUR_DIR.match(hour_part)
    if not date_match or not hour_match or int(hour_match[1]) > 23:
        return None
    try:
        day = datetime.strptime(date_match[1], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day + timedelta(hours=int(hour_match[1]))


def entries(root: Root) -> list[Entry]:
    """Every file directly inside a well-named ``date=…/hour=…`` of ``root`` (hidden ones
    too: callers decide), from one recursive listing."""
    root = locate(root)
    found = []
    for info in root.listing():
        if info.type != pafs.FileType.File:
            continue
        parts = root.relative(root.at(info.path)).split("/")
        if len(parts) != 3:
            continue
        start = _hour_start(parts[0], parts[1])
        if start is not None:
            found.append(Entry(root.at(info.path), start, info))
    return found


def data_files(
    root: Root, topic: str | None = None, partition: int | None = None
) -> list[DataFile]:
    """Every data file under ``root`` (of one topic, and partition, when given)."""
    found = []
    for entry in entries(root):
        data = parse_data_file(entry.path, entry.info)
        if data is None or (topic is not None and data.topic != topic):
            continue
        if partition is None or data.partition == partition:
            found.append(data)
    return found


@dataclass(frozen=True)
class HourDir:
    """One ``date=…/hour=…`` directory and the hour it covers (UTC)."""

    path: Location
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)


def hour_dirs(root: Root) -> list[HourDir]:
    """Every well-named hour directory under *root*, oldest first; others are ignored.

    On local disk an empty hour directory counts; in an object store an hour exists while a
    key is under it."""
    root = locate(root)
    found: dict[str, HourDir] = {}
    for info in root.listing():
        parts = root.relative(root.at(info.path)).split("/")
        if len(parts) < 2 or (len(parts) == 2 and info.type != pafs.FileType.Directory):
            continue
        start = _hour_start(parts[0], parts[1])
        if start is None:
            continue
        key = f"{parts[0]}/{parts[1]}"
        if key not in found:
            found[key] = HourDir(root / key, start)
    return sorted(found.values(), key=lambda h: h.start)
