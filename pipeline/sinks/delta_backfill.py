"""Backfill into Delta tables (``evalstream backfill`` with ``EVALSTREAM_TABLE_FORMAT=delta``
or into a root that is a Delta table): each chunk of the backfill input replaces its own
rows, in one commit per table, so a re-run never duplicates a row.

A chunk is one source partition's block of offsets (or lines of a JSONL file),
``[first, last]`` (:mod:`pipeline.tools.backfill`). Its rows are written with Delta's
*replace where*: ``write_deltalake(mode="overwrite", predicate=...)`` with the predicate
``kafka_topic = <source> AND kafka_partition = <p> AND kafka_offset BETWEEN first AND last``
removes whatever rows the table held for that range and adds the new ones in the same commit
(readers see the old rows or the new ones, never both or neither). That is the Parquet
backfill's rule, a chunk replaces what it covers, so a re-run with other evaluators replaces
the scores instead of adding to them, and a re-run from an earlier start offset writes the
offsets the first run did not cover. Each commit also records the application transaction
``evalstream:backfill-<label>:<partition>`` with the chunk's last offset (Delta's ``txn``
action: which input a table holds, as the worker's commits record it), read back by
:func:`last_backfilled`.

Rows come from the same code as the worker's Delta sink (:class:`DeltaSink`: the contract's
columns, ``date``/``hour`` partitions). Source names: a JSONL file's rows carry
``file:<name>``, so two files of the same name backfilled into one table replace each
other's lines; give them distinct names.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.exceptions import SinkError
from pipeline.sinks.delta import DeltaSink, _Table, app_id
from pipeline.sinks.delta_table import PARTITION_COLUMNS, NoCommitYet, has_commit, open_table


def range_predicate(source: str, partition: int, first: int, last: int) -> str:
    """The SQL predicate of one chunk's rows (Delta's replaceWhere)."""
    quoted = source.replace("'", "''")
    return (
        f"kafka_topic = '{quoted}' AND kafka_partition = {int(partition)}"
        f" AND kafka_offset >= {int(first)} AND kafka_offset <= {int(last)}"
    )


class DeltaBackfillSink(DeltaSink):
    """A :class:`DeltaSink` whose ``replace`` commits one chunk as replace-where."""

    def replace(self, source: str, label: str, partition: int, first: int, last: int) -> list[str]:
        """Make each table hold exactly the buffered rows for ``source``/``partition`` offsets
        ``first..last`` (none buffered: the range's old rows are removed). Raises
        ``SinkError``; the buffers are cleared either way."""
        predicate = range_predicate(source, partition, first, last)
        committed = []
        try:
            if len(self._buffers) > 1:
                raise SinkError("a backfill chunk holds one source partition")
            buffer = next(iter(self._buffers.values()), None)
            ident = app_id(f"backfill-{label}", partition)
            for index, table in enumerate(self._tables):
                columns = buffer.columns.get(index, {}) if buffer is not None else {}
                if self._replace(table, columns, predicate, ident, last):
                    committed.append(table.uri)
        finally:
            self.rows_written += self.buffered_rows
            self._buffers.clear()
        self.files_written += len(committed)
        return committed

    def _replace(
        self, table: _Table, columns: dict[str, list], predicate: str, ident: str, last: int
    ) -> bool:
        from deltalake import CommitProperties, Transaction, WriterProperties, write_deltalake

        if not columns and not has_commit(table.uri, table.storage_options):
            return False  # nothing to write, nothing to remove
        delta = self._open_or_create(table)
        names = table.schema.names
        data = pa.Table.from_pydict(
            {name: columns.get(name, []) for name in names}, schema=table.schema
        )
        known = set(pa.schema(delta.schema().to_arrow()).names)
        try:
            write_deltalake(
                delta,
                data,
                mode="overwrite",
                predicate=predicate,
                schema_mode="merge" if not set(names) <= known else None,
                partition_by=list(PARTITION_COLUMNS),
                writer_properties=WriterProperties(compression="ZSTD"),
                commit_properties=CommitProperties(app_transactions=[Transaction(ident, last)]),
            )
        except Exception as exc:  # CommitFailedError, a predicate the data breaks, OSError
            raise SinkError(f"cannot commit to Delta table {table.uri}: {exc}") from exc
        return True


def last_backfilled(root, label: str, partition: int) -> int | None:
    """The last offset of the latest chunk of ``backfill-<label>`` partition ``partition``
    committed to the Delta table at ``root`` (``None``: none yet)."""
    try:
        table = open_table(root)
    except NoCommitYet:
        return None
    return table.transaction_version(app_id(f"backfill-{label}", partition))
