"""The Delta Lake sink (``EVALSTREAM_TABLE_FORMAT=delta``): the results, traces and spans
datasets as Delta tables (layout and schema: :mod:`pipeline.sinks.delta_table`), written with
deltalake (delta-rs), exactly once per row across crashes and replays.

The worker feeds it like the Parquet sink (``add`` each scored-trace message with its
scored-topic partition and offset, ``flush`` when ``should_flush``); the rows are the same
(:mod:`pipeline.sinks.rows`). Exactly-once rests on Delta's *application transactions*
(the ``txn`` action of the Delta protocol): every commit to a table records, per scored
topic-partition it holds rows of, ``Transaction(app_id="evalstream:<topic>:<partition>",
version=<last scored offset written>)``. Before writing, the sink reads each partition's
version from the table and drops the buffered rows at or below it: rows of a replay (after a
crash between the Delta commit and the Kafka offset commit, or a partition taken over by
another worker) are never written twice, however the replay cuts its batches. The version
is read from the same table snapshot the commit is made against, and delta-rs rejects a
commit when a concurrent one recorded the same app id after that snapshot
(``CommitFailedError: Concurrent transaction``): a zombie worker writing a partition its
new owner also writes loses the race instead of adding duplicates; the failed flush is
retried, re-reads the version and writes only what is still missing.

Each of the three tables gets one commit per flush (all partitions' rows in it). A flush
that fails part way (say, the results committed and the traces not) keeps its buffers; the
retry finds the results' versions moved and writes only the traces. Nothing is acked to
Kafka before every table's commit.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.exceptions import SinkError
from pipeline.sinks.dataset import RESULTS, SPANS, TRACES, dataset_roots, partition_of
from pipeline.sinks.delta_table import (
    PARTITION_COLUMNS,
    delta_schema,
    has_commit,
    is_delta_table,
    open_table,
    storage_options_of,
    table_uri,
)
from pipeline.sinks.rows import Row, result_rows, span_rows, trace_rows
from schemas import arrow_schema, spans_arrow_schema, traces_arrow_schema
from schemas.datasets import DEFAULT_FIELD_LIMIT_BYTES

log = logging.getLogger(__name__)
_OFFSET = "__scored_offset"  # buffered beside the rows, never written


def app_id(topic: str, partition: int) -> str:
    """The Delta application-transaction id of one scored topic-partition."""
    return f"evalstream:{topic}:{partition}"


@dataclass(frozen=True)
class _Table:
    name: str
    uri: str
    schema: pa.Schema  # the Delta table's, partition columns included
    rows: Callable[[dict[str, Any]], Iterable[Row]]
    storage_options: dict[str, str] | None = None


@dataclass
class _Buffer:
    """Rows of one scored topic-partition per table, as column lists with their offsets."""

    rows: int = 0
    columns: dict[int, dict[str, list]] = field(default_factory=dict)


class DeltaSink:
    """Buffers rows per scored topic-partition; ``flush`` commits them to the Delta tables."""

    def __init__(
        self,
        root: str | Path,
        flush_rows: int = 20_000,
        flush_seconds: float = 10.0,
        *,
        store_traces: bool = False,
        field_limit_bytes: int = DEFAULT_FIELD_LIMIT_BYTES,
        storage_options: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.storage_options = storage_options
        plain_uri = isinstance(root, str | Path) and "://" in str(root)
        roots = _uri_roots(str(root)) if plain_uri else dataset_roots(root)
        limit = field_limit_bytes
        contents = [(RESULTS, arrow_schema(), result_rows)]
        if store_traces:
            contents += [
                (TRACES, traces_arrow_schema(), partial(trace_rows, limit=limit)),
                (SPANS, spans_arrow_schema(), partial(span_rows, limit=limit)),
            ]
        self._tables = [
            _Table(kind.name, table_uri(roots[kind]), delta_schema(contract), rows,
                   storage_options_of(roots[kind], storage_options))
            for kind, contract, rows in contents
        ]  # fmt: skip
        for table in self._tables:
            _refuse_parquet_root(table.uri)
        self._buffers: dict[tuple[str, int], _Buffer] = {}
        self._last_flush = time.monotonic()
        self.files_written = 0  # commits made (ParquetSink counts files)
        self.rows_written = 0
        self.rows_skipped: Counter[str] = Counter()  # per table: replayed rows it already had

    @property
    def buffered_rows(self) -> int:
        return sum(b.rows for b in self._buffers.values())

    def add(self, message: dict[str, Any], topic: str, partition: int, offset: int) -> None:
        """Buffer the rows of one scored-trace message read at ``topic/partition/offset``."""
        buf = self._buffers.setdefault((topic, partition), _Buffer())
        date, hour = partition_of(message["timestamp"])
        for index, table in enumerate(self._tables):
            rows = list(table.rows(message))
            if not rows:
                continue
            columns = buf.columns.setdefault(index, defaultdict(list))
            for row in rows:
                for name in table.schema.names:
                    if name not in PARTITION_COLUMNS:
                        columns[name].append(row[name])
            columns["date"] += [date] * len(rows)
            columns["hour"] += [hour] * len(rows)
            columns[_OFFSET] += [offset] * len(rows)
            if index == 0:
                buf.rows += len(rows)

    def should_flush(self) -> bool:
        if self.buffered_rows >= self.flush_rows:
            return True
        return bool(self._buffers) and time.monotonic() - self._last_flush >= self.flush_seconds

    def flush(self) -> list[str]:
        """Commit every buffer to its tables; blocking (run it in an executor). Raises
        ``SinkError``, keeping the buffers for a retry."""
        committed = []
        for index, table in enumerate(self._tables):
            parts = {tp: b.columns[index] for tp, b in self._buffers.items() if index in b.columns}
            if parts and self._commit(table, parts):
                committed.append(table.uri)
        self.rows_written += self.buffered_rows
        self._buffers.clear()
        self._last_flush = time.monotonic()
        self.files_written += len(committed)
        return committed

    def _commit(self, table: _Table, parts: dict[tuple[str, int], dict[str, list]]) -> bool:
        """Append the rows not yet in ``table`` in one commit; False when all were there."""
        from deltalake import CommitProperties, Transaction, WriterProperties, write_deltalake

        delta = self._open_or_create(table)
        batches, transactions = [], []
        for (topic, partition), columns in sorted(parts.items()):
            ident = app_id(topic, partition)
            done = delta.transaction_version(ident)
            data = pa.Table.from_pydict(
                {name: columns[name] for name in table.schema.names}, schema=table.schema
            )
            if done is not None:
                keep = data.filter(pc.greater(pa.array(columns[_OFFSET], pa.int64()), done))
                if skipped := data.num_rows - keep.num_rows:
                    self.rows_skipped[table.name] += skipped
                    log.info(
                        "%s: %d replayed row(s) of %s p%d skipped, already committed up to"
                        " offset %d", table.name, skipped, topic, partition, done,
                    )  # fmt: skip
                data = keep
            if data.num_rows:
                batches.append(data)
                transactions.append(Transaction(ident, max(columns[_OFFSET])))
        if not batches:
            return False
        # A newer contract adds columns (say, trace_version once): the first commit that
        # carries them adds them to the table; rows written before read them as null.
        known = set(pa.schema(delta.schema().to_arrow()).names)
        evolve = "merge" if not set(table.schema.names) <= known else None
        try:
            write_deltalake(
                delta,
                pa.concat_tables(batches),
                mode="append",
                schema_mode=evolve,
                partition_by=list(PARTITION_COLUMNS),
                writer_properties=WriterProperties(compression="ZSTD"),
                commit_properties=CommitProperties(app_transactions=transactions),
            )
        except Exception as exc:  # CommitFailedError (a concurrent writer), OSError, ...
            raise SinkError(f"cannot commit to Delta table {table.uri}: {exc}") from exc
        return True

    def _open_or_create(self, table: _Table) -> Any:
        from deltalake import DeltaTable

        if has_commit(table.uri, table.storage_options):
            return open_table(table.uri, table.storage_options)
        try:  # no table, or a log without a commit (a first commit killed or in progress)
            return DeltaTable.create(
                table.uri,
                table.schema,
                mode="ignore",  # another worker may create it at the same moment
                partition_by=list(PARTITION_COLUMNS),
                name=f"evalstream_{table.name}",
                description=f"evalstream {table.name} dataset (docs/consume.md)",
                storage_options=table.storage_options,
            )
        except Exception as exc:  # lost the race to create version 0: open the winner's
            if not has_commit(table.uri, table.storage_options):  # no winner: say why
                raise SinkError(f"cannot create Delta table {table.uri}: {exc}") from exc
            return open_table(table.uri, table.storage_options)


def _uri_roots(results: str) -> dict[Any, str]:
    """The three roots of a URI results root (siblings under the same parent prefix)."""
    parent, _, _name = results.rstrip("/").rpartition("/")
    return {RESULTS: results, TRACES: f"{parent}/traces", SPANS: f"{parent}/spans"}


def _refuse_parquet_root(uri: str) -> None:
    """A local root already holding the Parquet layout (files, no ``_delta_log``) is a
    mistake: the two formats must not share a directory."""
    if "://" in uri:
        return
    root = Path(uri)
    if root.is_dir() and not is_delta_table(root) and any(root.glob("date=*/hour=*/*.parquet")):
        raise SinkError(
            f"{root} holds a Parquet dataset, not a Delta table: point EVALSTREAM_PARQUET_DIR"
            " at a new directory for EVALSTREAM_TABLE_FORMAT=delta"
        )
