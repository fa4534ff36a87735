"""The Parquet sink: one row per trace x result, Hive-partitioned by ``date=/hour=``.

The worker feeds it from the scored-traces topic. Rows are buffered and written when the
buffer reaches ``flush_rows`` or ``flush_seconds``. Each file is written to a temporary
name, fsynced and renamed, so a reader never sees half a file; its name carries the
scored-topic partition and offset range it covers (the layout is :mod:`pipeline.sinks.dataset`):
``date=2026-11-25/hour=14/scored-traces-p3-o000000001200-000000001699.parquet``.
Files past the committed offset are removed when a worker takes a partition over
(``remove_uncommitted``), so a replay never adds a duplicate row.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.exceptions import SinkError
from pipeline.sinks.dataset import data_files, file_name, partition_dir, partition_of
from schemas import PARQUET_COLUMNS, arrow_schema
from schemas.parquet import PARQUET_SCHEMA_VERSION

COLUMN_NAMES = [name for name, _, _ in PARQUET_COLUMNS]


@dataclass
class _Buffer:
    """Rows of one topic-partition, columns kept as lists (cheap to append, cheap to convert)."""

    first_offset: int
    last_offset: int = -1
    rows: int = 0
    columns: dict[str, dict[tuple[str, str], list]] = field(default_factory=dict)


def remove_uncommitted(root: Path, topic: str, partition: int, committed: int) -> list[Path]:
    """Delete this partition's files that start at or after the committed offset.

    Such a file was written before a crash or a lost partition, but its offsets were never
    committed: the records will be read and written again, possibly cut at other offsets, so
    the old file must go before the replay writes its own.
    """
    removed = []
    for data in data_files(root, topic, partition):
        if data.first >= committed:
            data.path.unlink(missing_ok=True)
            removed.append(data.path)
    return removed


def _row_values(message: dict[str, Any]) -> Iterable[list[Any]]:
    """Rows of one scored-trace message (see ``schemas.ScoredTrace``), one per result."""
    source = message["source"]
    head = [
        message["trace_id"],
        datetime.fromisoformat(message["timestamp"]),
        message["app"],
        message.get("model"),
        message["status"],
        message.get("latency_ms"),
        message.get("input_tokens"),
        message.get("output_tokens"),
        message.get("cost_usd"),
    ]
    tail = [source["topic"], source["partition"], source["offset"], PARQUET_SCHEMA_VERSION]
    for r in message["results"]:
        metadata = r.get("metadata")
        yield [
            *head,
            r["evaluator"],
            r.get("evaluator_version", "1"),
            r.get("score"),
            r.get("passed"),
            r.get("label"),
            r.get("rationale"),
            r.get("error"),
            r.get("latency_ms"),
            r.get("source", "code"),
            r.get("span_id"),
            orjson.dumps(metadata).decode() if metadata else None,
            *tail,
        ]


class ParquetSink:
    """Buffers rows per topic-partition and writes them atomically on ``flush``."""

    def __init__(self, root: Path, flush_rows: int = 20_000, flush_seconds: float = 10.0) -> None:
        self.root = Path(root)
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.schema = arrow_schema()
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
        stamp = message["timestamp"]  # ISO-8601 in UTC: "2026-11-25T14:05:09.123Z"
        part = buf.columns.setdefault(partition_of(stamp), defaultdict(list))
        for values in _row_values(message):
            for name, value in zip(COLUMN_NAMES, values, strict=True):
                part[name].append(value)
            buf.rows += 1

    def should_flush(self) -> bool:
        if self.buffered_rows >= self.flush_rows:
            return True
        return bool(self._buffers) and time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self) -> list[Path]:
        """Write every buffer; blocking (run it in an executor). Raises ``SinkError``."""
        written = []
        for (topic, partition), buf in sorted(self._buffers.items()):
            name = file_name(topic, partition, buf.first_offset, buf.last_offset)
            for (date, hour), columns in sorted(buf.columns.items()):
                directory = partition_dir(self.root, date, hour)
                table = pa.Table.from_pydict(dict(columns), schema=self.schema)
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
