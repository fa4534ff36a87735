"""The Parquet sink: one row per trace x result, Hive-partitioned by ``date=/hour=``; with
``store_traces``, also the ``traces`` and ``spans`` datasets beside it (rows: ``sinks.rows``).

The worker feeds it from the scored-traces topic. Rows are buffered and written when the
buffer reaches ``flush_rows`` or ``flush_seconds``. Each file appears whole (local disk: a
fsynced temporary file linked into place; an object store: one PUT, see
:mod:`pipeline.sinks.objects`); its name carries the scored-topic partition and offset range
it covers (the layout is :mod:`pipeline.sinks.dataset`):
``date=2026-11-25/hour=14/scored-traces-p3-o000000001200-000000001699.parquet``.
Each dataset gets a file of the same name for the same offset range; all are written before
the offsets are acked. Files past the committed offset are removed from every dataset when a
worker takes a partition over (``remove_uncommitted``), so a replay never adds a duplicate row.

The worker's sink writes each name once (``overwrite=False``): a name that exists already
holds the same rows (the same offsets of the same immutable topic), written by an earlier
attempt of this flush or by a zombie worker, and is kept as it is. Backfill overwrites
(``overwrite=True``): a re-run may score with other evaluators.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import pyarrow as pa

from pipeline.exceptions import SinkError
from pipeline.sinks.dataset import (
    SPANS,
    TRACES,
    Root,
    data_files,
    dataset_roots,
    file_name,
    partition_dir,
    partition_of,
)
from pipeline.sinks.objects import write_parquet
from pipeline.sinks.rows import Columns, Row, add_result_columns, result_rows, span_rows, trace_rows
from pipeline.sinks.storage import Location, StorageError, locate
from schemas import arrow_schema, spans_arrow_schema, traces_arrow_schema
from schemas.datasets import DEFAULT_FIELD_LIMIT_BYTES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One dataset the sink writes: where, in which schema, and its rows of a message."""

    root: Location
    schema: pa.Schema
    rows: Callable[[dict[str, Any]], Iterable[Row]]
    columns: Callable[[dict[str, Any], Columns], int] | None = None
    """Appends a message's rows to the buffer column by column (no dict per row) and returns
    how many; the same rows as ``rows`` (which the sink uses when this is None)."""

    @cached_property
    def names(self) -> list[str]:  # pyarrow builds a new list on every .names
        return self.schema.names


@dataclass
class _Buffer:
    """Rows of one topic-partition, columns kept as lists (cheap to append, cheap to convert),
    per (dataset, date, hour)."""

    first_offset: int
    last_offset: int = -1
    rows: int = 0
    columns: dict[tuple[int, str, str], dict[str, list]] = field(default_factory=dict)


def remove_uncommitted(root: Root, topic: str, partition: int, committed: int) -> list[Location]:
    """Delete this partition's files that start at or after the committed offset, in the
    results dataset at ``root`` and in the traces and spans datasets beside it.

    Such a file was written before a crash or a lost partition, but its offsets were never
    committed: the records will be read and written again, possibly cut at other offsets, so
    the old file must go before the replay writes its own.
    """
    return remove_uncommitted_partitions(root, topic, {partition: committed})


def remove_uncommitted_partitions(
    root: Root, topic: str, committed: dict[int, int]
) -> list[Location]:
    """:func:`remove_uncommitted` for several partitions with one listing per dataset (one
    LIST of each prefix on an object store, whatever the number of partitions)."""
    return [
        path
        for dataset_root in dataset_roots(root).values()
        for path in remove_uncommitted_in(dataset_root, topic, committed)
    ]


def remove_uncommitted_in(
    dataset_root: Location, topic: str, committed: dict[int, int]
) -> list[Location]:
    """The files of one dataset past each partition's committed offset, deleted."""
    removed = []
    for data in data_files(dataset_root, topic):
        offset = committed.get(data.partition)
        if offset is not None and data.first >= offset and data.path.delete():
            removed.append(data.path)
    return removed


class ParquetSink:
    """Buffers rows per topic-partition and writes them atomically on ``flush``."""

    def __init__(
        self,
        root: Root,
        flush_rows: int = 20_000,
        flush_seconds: float = 10.0,
        *,
        store_traces: bool = False,
        field_limit_bytes: int = DEFAULT_FIELD_LIMIT_BYTES,
        overwrite: bool = False,
        targets: list[Target] | None = None,
        time_field: str = "timestamp",
    ) -> None:
        """``targets``: other datasets than results/traces/spans (the sessions dataset), whose
        messages are partitioned by their ``time_field``."""
        self.root = locate(root)
        self.overwrite = overwrite
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.time_field = time_field
        roots = dataset_roots(self.root) if targets is None else {}
        self._targets = targets or [
            Target(self.root, arrow_schema(), result_rows, add_result_columns)
        ]
        if store_traces and targets is None:
            self._targets += [
                Target(
                    roots[TRACES],
                    traces_arrow_schema(),
                    partial(trace_rows, limit=field_limit_bytes),
                ),
                Target(
                    roots[SPANS], spans_arrow_schema(), partial(span_rows, limit=field_limit_bytes)
                ),
            ]
        self._buffers: dict[tuple[str, int], _Buffer] = {}
        self._last_flush = time.monotonic()
        self.files_written = 0
        self.rows_written = 0
        self.files_kept = 0  # names that existed already (same offsets: same rows)

    @property
    def buffered_rows(self) -> int:
        return sum(b.rows for b in self._buffers.values())

    def add(self, message: dict[str, Any], topic: str, partition: int, offset: int) -> None:
        """Buffer the rows of one scored-trace message read at ``topic/partition/offset``."""
        buf = self._buffers.get((topic, partition))
        if buf is None:
            buf = self._buffers[(topic, partition)] = _Buffer(offset)
        buf.last_offset = max(buf.last_offset, offset)
        date, hour = partition_of(message[self.time_field])  # ISO-8601 UTC: "2026-11-25T14:05:09Z"
        for index, target in enumerate(self._targets):
            key = (index, date, hour)
            part = buf.columns.get(key)
            fresh = part is None
            if fresh:
                part = defaultdict(list)
            if target.columns is not None:
                count = target.columns(message, part)
            else:
                rows = list(target.rows(message))
                count = len(rows)
                for row in rows:
                    for name in target.names:
                        part[name].append(row[name])
            if fresh and (count or not index):  # an empty results file is written; no others
                buf.columns[key] = part
            if index == 0:  # flush_rows counts results rows, as before
                buf.rows += count

    def should_flush(self) -> bool:
        if self.buffered_rows >= self.flush_rows:
            return True
        return bool(self._buffers) and time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self) -> list[Location]:
        """Write every buffer; blocking (run it in an executor). Raises ``SinkError``."""
        written = []
        for (topic, partition), buf in sorted(self._buffers.items()):
            name = file_name(topic, partition, buf.first_offset, buf.last_offset)
            for (index, date, hour), columns in sorted(buf.columns.items()):
                target = self._targets[index]
                directory = partition_dir(target.root, date, hour)
                # a part with no rows (a message without results) is an empty file
                table = pa.Table.from_pydict(
                    {name: columns[name] for name in target.names}, schema=target.schema
                )
                written.append(self._write(table, directory / name))
        self.rows_written += self.buffered_rows
        self._buffers.clear()
        self._last_flush = time.monotonic()
        self.files_written += len(written)
        return written

    def _write(self, table: pa.Table, target: Location) -> Location:
        try:
            created = write_parquet(target, table, replace=self.overwrite)
        except StorageError as exc:
            raise SinkError(str(exc)) from exc
        if not created:
            self.files_kept += 1
            log.warning("kept %s: it exists already (same offsets, same rows)", target)
        return target
