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
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_HOUR_DIR = re.compile(r"^hour=(\d{1,2})$")
_DATA_FILE = re.compile(
    r"^(?P<topic>.+)-p(?P<partition>\d+)-o(?P<first>\d+)-(?P<last>\d+)\.parquet$"
)


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


def dataset_roots(results_root: Path) -> dict[DatasetKind, Path]:
    """The root of each dataset, given the results dataset's (``EVALSTREAM_PARQUET_DIR``)."""
    results_root = Path(results_root)
    parent = results_root.parent
    if results_root.name in (TRACES.name, SPANS.name, SESSIONS.name):
        raise ValueError(f"the results dataset cannot be named {results_root.name!r}: {parent}")
    return {
        RESULTS: results_root,
        TRACES: parent / "traces",
        SPANS: parent / "spans",
        SESSIONS: parent / "sessions",
    }


def partition_of(timestamp: str) -> tuple[str, str]:
    """The (date, hour) partition of an ISO-8601 UTC timestamp ("2026-11-25T14:05:09Z")."""
    return timestamp[:10], timestamp[11:13]


def partition_dir(root: Path, date: str, hour: str) -> Path:
    return Path(root) / f"date={date}" / f"hour={hour}"


def file_name(topic: str, partition: int, first: int, last: int) -> str:
    return f"{topic}-p{partition}-o{first:012d}-{last:012d}.parquet"


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

    def overlaps(self, first: int, last: int) -> bool:
        return self.first <= last and first <= self.last


def parse_data_file(path: Path) -> DataFile | None:
    """``None`` for a name this layout does not write (temporary files, strays)."""
    match = _DATA_FILE.match(path.name)
    if not match:
        return None
    return DataFile(
        path, match["topic"], int(match["partition"]), int(match["first"]), int(match["last"])
    )


def data_files(
    root: Path, topic: str | None = None, partition: int | None = None
) -> list[DataFile]:
    """Every data file under ``root`` (of one topic, and partition, when given)."""
    name = "*.parquet" if topic is None else f"{glob.escape(topic)}-p*-o*.parquet"
    found = []
    for path in Path(root).glob(f"date=*/hour=*/{name}"):
        data = parse_data_file(path)
        if data is None or (topic is not None and data.topic != topic):
            continue
        if partition is None or data.partition == partition:
            found.append(data)
    return found


@dataclass(frozen=True)
class HourDir:
    """One ``date=…/hour=…`` directory and the hour it covers (UTC)."""

    path: Path
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=1)


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
