"""The Parquet sink: one row per trace x result, Hive-partitioned by ``date=/hour=``; with
``store_traces``, also the ``traces`` and ``spans`` datasets beside it (rows: ``sinks.rows``).

The worker feeds it from the scored-traces topic. Rows are buffered and written when the
buffer reaches ``flush_rows`` or ``flush_seconds``. Each file is written to a temporary
name, fsynced and renamed, so a reader never sees half a file; its name carries the
scored-topic partition and offset range it covers (the layout is :mod:`pipeline.sinks.dataset`):
``date=2026-11-25/hour=14/scored-traces-p3-o000000001200-000000001699.parquet``.
Each dataset gets a file of the same name for the same offset range; all are written before
the offsets are acked. Files past the committed offset are removed from every dataset when a
worker takes a partition over (``remove_uncommitted``), so a replay never adds a duplicate row.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.exceptions import SinkError
from pipeline.sinks.dataset import (
    SPANS,
    TRACES,
    data_files,
    dataset_roots,
    file_name,
    partition_dir,
    partition_of,
)
from pipeline.sinks.rows import Row, result_rows, span_rows, trace_rows
from schemas import arrow_schema, spans_arrow_schema, traces_arrow_schema
from schemas.datasets import DEFAULT_FIELD_LIMIT_BYTES


@dataclass(frozen=True)
class _Target:
    """One dataset the sink writes: where, in which schema, and its rows of a message."""

    root: Path
    schema: pa.Schema
    rows: Callable[[dict[str, Any]], Iterable[Row]]

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


def remove_uncommitted(root: Path, topic: str, partition: int, committed: int) -> list[Path]:
    """Delete this partition's files that start at or after the committed offset, in the
    results dataset at ``root`` and in the traces and spans datasets beside it.

    Such a file was written before a crash or a lost partition, but its offsets were never
    committed: the records will be read and written again, possibly cut at other offsets, so
    the old file must go before the replay writes its own.
    """
    removed = []
    for dataset_root in dataset_roots(root).values():
        for data in data_files(dataset_root, topic, partition):
            if data.first >= committed:
                data.path.unlink(missing_ok=True)
                removed.append(data.path)
    return removed


class ParquetSink:
    """Buffers rows per topic-partition and writes them atomically on ``flush``."""

    def __init__(
        self,
        root: Path,
        flush_rows: int = 20_000,
        flush_seconds: float = 10.0,
        *,
        store_traces: bool = False,
        field_limit_bytes: int = DEFAULT_FIELD_LIMIT_BYTES,
    ) -> None:
        self.root = Path(root)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        roots = dataset_roots(self.root)
        self._targets = [_Target(self.root, arrow_schema(), result_rows)]
        if store_traces:
            self._targets += [
                _Target(
                    roots[TRACES],
                    traces_arrow_schema(),
                    partial(trace_rows, limit=field_limit_bytes),
                ),
                _Target(
                    roots[SPANS], spans_arrow_schema(), partial(span_rows, limit=field_limit_bytes)
                ),
            ]
        self._buffers: dict[tuple[str, int], _Buffer] = {}
        self._last_flush = time.monotonic()
        self.files_written = 0
        self.rows_written = 0

    @property
    def buffered_rows(self) -> int:
        return sum(b.rows for b in self._buffers.values())

    def add(self, message: dict[str, Any], topic: str, partition: int, offset: int) -> None:
        """Buffer the rows of one scored-trace message read at ``topic/partition/offset``."""
        buf = self._buffers.get((topic, partition))
        if buf is None:
            buf = self._buffers[(topic, partition)] = _Buffer(offset)
        buf.last_offset = max(buf.last_offset, offset)
        date, hour = partition_of(message["timestamp"])  # ISO-8601 UTC: "2026-11-25T14:05:09Z"
        for index, target in enumerate(self._targets):
            rows = list(target.rows(message))
            if not rows and index:  # an empty results file is written, as before; no others
                continue
            part = buf.columns.setdefault((index, date, hour), defaultdict(list))
            for row in rows:
                for name in target.names:
                    part[name].append(row[name])
            if index == 0:  # flush_rows counts results rows, as before
                buf.rows += len(rows)

    def should_flush(self) -> bool:
        if self.buffered_rows >= self.flush_rows:
            return True
        return bool(self._buffers) and time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self) -> list[Path]:
        """Write every buffer; blocking (run it in an executor). Raises ``SinkError``."""
        written = []
        for (topic, partition), buf in sorted(self._buffers.items()):
            name = file_name(topic, partition, buf.first_offset, buf.last_offset)
            for (index, date, hour), columns in sorted(buf.columns.items()):
                target = self._targets[index]
                directory = partition_dir(target.root, date, hour)
                table = pa.Table.from_pydict(dict(columns), schema=target.schema)
                written.append(self._write_atomically(table, directory, name))
        self.rows_written += self.buffered_rows
        self._buffers.clear()
        self._last_flush = time.monotonic()
        self.files_written += len(written)
        return written

    def _write_atomically(self, table: pa.Table, directory: Path, name: str) -> Path:
        target = directory / name
        tmp = directory / f".{name}.tmp"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle, compression="zstd")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise SinkError(f"cannot write {target}: {exc.strerror or exc}") from exc
        return target
