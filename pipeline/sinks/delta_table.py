"""What the Delta writer, the maintenance tools and the readers share about a Delta table:
where it is, its schema, how to open it, which data files are live.

A Delta dataset has the same roots as the Parquet one (``EVALSTREAM_PARQUET_DIR`` for the
results, ``traces`` and ``spans`` beside it; :func:`pipeline.sinks.dataset.dataset_roots`),
each root a Delta table: Parquet data files under ``date=YYYY-MM-DD/hour=HH/`` and a
``_delta_log/`` saying which of them are live. The columns are the dataset's contract
(``schemas``) plus the two string partition columns ``date`` and ``hour`` (the trace's UTC
event time, as in the Parquet layout); timestamps are stored in microseconds, Delta's unit.

A root is a local path, a URI (``s3://bucket/prefix``...) or an object with ``__str__`` giving
one and, optionally, a ``storage_options()`` method (a dataset location of the object-storage
layer): deltalake (delta-rs) opens them all, taking credentials and the endpoint from the
``storage_options`` given, else the root's, else the standard variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.exceptions import SinkError

PARTITION_COLUMNS = ("date", "hour")
DELTA_LOG = "_delta_log"


def table_uri(root: Any) -> str:
    """The root as deltalake takes it: a URI as it is, a local path made absolute."""
    text = str(root)
    if "://" in text:
        return text.rstrip("/")
    return os.path.abspath(text)


def storage_options_of(root: Any, given: dict[str, str] | None = None) -> dict[str, str] | None:
    """``given``, else the root's own ``storage_options()``, else ``None`` (delta-rs then
    reads the standard environment variables)."""
    if given is not None:
        return given
    method = getattr(root, "storage_options", None)
    return (method() or None) if callable(method) else None


def is_delta_table(root: Any, storage_options: dict[str, str] | None = None) -> bool:
    """Whether ``root`` is a Delta table: locally, whether it has a ``_delta_log`` (cheap),
    even one without a commit yet (a first commit in progress, or one killed before its
    commit file appeared: the root is still meant for Delta, never for Parquet files); in an
    object store, whether the log holds a commit."""
    uri = table_uri(root)
    if "://" not in uri:
        return (Path(uri) / DELTA_LOG).is_dir()
    return has_commit(root, storage_options)


_COMMIT_FILE = re.compile(r"^\d{20}\.(json|checkpoint(\..+)?\.parquet)$")


def has_commit(root: Any, storage_options: dict[str, str] | None = None) -> bool:
    """Whether ``root``'s ``_delta_log`` holds a commit (or checkpoint), so that deltalake
    can open it. A log directory alone is not enough: delta-rs creates it before the first
    commit file, and opening it then fails with ``No files in log segment``."""
    uri = table_uri(root)
    if "://" not in uri:
        try:
            return any(_COMMIT_FILE.match(name) for name in os.listdir(Path(uri) / DELTA_LOG))
        except OSError:  # no log (yet)
            return False
    from deltalake import DeltaTable

    try:
        return DeltaTable.is_deltatable(uri, storage_options_of(root, storage_options))
    except Exception:  # an unreachable store reads as "not a table"; opening it says why
        return False


def delta_schema(contract: pa.Schema) -> pa.Schema:
    """The table's schema: the contract's columns (timestamps in microseconds, without the
    Parquet schema metadata) and the ``date`` and ``hour`` partition columns."""
    fields = []
    for field in contract:
        kind = field.type
        if pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz=kind.tz)
        fields.append(pa.field(field.name, kind, field.nullable))
    fields += [pa.field(name, pa.string(), nullable=False) for name in PARTITION_COLUMNS]
    return pa.schema(fields)


class NoCommitYet(SinkError):
    """The root has a ``_delta_log`` but no commit in it: no version to open, no rows."""


def open_table(root: Any, storage_options: dict[str, str] | None = None) -> Any:
    """The table's latest version, or ``SinkError`` in one line (missing, unreachable;
    :class:`NoCommitYet` for a log without a commit)."""
    from deltalake import DeltaTable

    uri = table_uri(root)
    if "://" not in uri and (Path(uri) / DELTA_LOG).is_dir() and not has_commit(uri):
        raise NoCommitYet(
            f"Delta table {uri} has no commit yet (a first write in progress or interrupted):"
            " it holds no rows"
        )
    try:
        return DeltaTable(uri, storage_options=storage_options_of(root, storage_options))
    except Exception as exc:  # TableNotFoundError, OSError from the store, ...
        raise SinkError(f"cannot open Delta table {uri}: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


@dataclass(frozen=True)
class LiveFile:
    """A data file of the table's current version and its partition."""

    uri: str
    date: str
    hour: str
    size: int
    modification_time_ms: int
    rows: int | None

    @property
    def hour_start(self) -> datetime | None:
        try:
            day = datetime.strptime(self.date, "%Y-%m-%d")
            return day.replace(hour=int(self.hour), tzinfo=UTC)
        except ValueError:
            return None


def live_files(table: Any) -> list[LiveFile]:
    """The files of the table's current version (what a reader of it reads), oldest
    partition first."""
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    root = table.table_uri.rstrip("/")
    found = []
    for action in actions:
        path = action["path"]
        uri = path if "://" in path else f"{root}/{path}"
        if uri.startswith("file://"):
            uri = uri.removeprefix("file://")
        found.append(
            LiveFile(
                uri,
                action.get("partition.date") or "",
                action.get("partition.hour") or "",
                int(action["size_bytes"]),
                int(action["modification_time"]),
                action.get("num_records"),
            )
        )
    return sorted(found, key=lambda f: (f.date, f.hour, f.uri))
