"""The Parquet sink: one row per trace x result, Hive-partitioned by ``date=/hour=``.

Rows are buffered and written when a buffer reaches ``flush_rows`` or ``flush_seconds``.
Each file is written to a temporary name, fsynced and renamed, so a reader never sees half
a file; its name carries the topic, partition and offset range it covers:
``date=2026-11-25/hour=14/traces-p3-o000000001200-000000001699.parquet``. Replaying the
same offsets writes the same name, replacing the file instead of duplicating rows.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.exceptions import SinkError
from pipeline.scoring import ScoredRecord
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


def file_name(topic: str, partition: int, first: int, last: int) -> str:
    return f"{topic}-p{partition}-o{first:012d}-{last:012d}.parquet"


def _partition_of(record: ScoredRecord) -> tuple[str, str]:
    ts = record.trace.timestamp
    return ts.strftime("%Y-%m-%d"), ts.strftime("%H")


def _row_values(record: ScoredRecord) -> Iterable[list]:
    trace, src = record.trace, record.source
    head = [
        trace.trace_id,
        trace.timestamp,
        trace.app,
        trace.model,
        trace.status.value,
        trace.latency_ms,
        trace.input_tokens,
        trace.output_tokens,
        record.cost_usd,
    ]
    for r in record.results:
        yield [
            *head,
            r.evaluator,
            r.evaluator_version,
            r.score,
            r.passed,
            r.label,
            r.rationale,
            r.error,
            r.latency_ms,
            r.source.value,
            r.span_id,
            orjson.dumps(r.metadata).decode() if r.metadata else None,
            src.topic,
            src.partition,
            src.offset,
            PARQUET_SCHEMA_VERSION,
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

    def add(self, records: Iterable[ScoredRecord]) -> None:
        for record in records:
            src = record.source
            buf = self._buffers.get((src.topic, src.partition))
            if buf is None:
                buf = self._buffers[(src.topic, src.partition)] = _Buffer(src.offset)
            buf.last_offset = max(buf.last_offset, src.offset)
            part = buf.columns.setdefault(_partition_of(record), defaultdict(list))
            for values in _row_values(record):
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
                directory = self.root / f"date={date}" / f"hour={hour}"
                table = pa.Table.from_pydict(dict(columns), schema=self.schema)
                written.append(self._write_atomically(table, directory, name))
            self.rows_written += buf.rows
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
