"""Healing files of one topic-partition whose offset ranges overlap (``evalstream compact``).

Such files come from a zombie worker (docs/guarantees.md, "Zombie fencing, exactly",
point 3): its buffer was cut at other offsets than the new owner's, so it wrote a new name
(say ``o…010-…025``) beside the owner's (``o…010-…019``, ``o…020-…029``), and the rows of the
offsets both cover are there twice. A file whose range lies inside another's is handled
first by :mod:`~pipeline.tools.maintenance.recovery` (deleted once every row of it is in the
wider file); what still overlaps after that is healed here, one *cluster* (files linked by
overlapping ranges) at a time:

1. Every file of the cluster must be mergeable as a compaction input (old enough, not in its
   partition's tail, same schema, rows in the hour): otherwise the cluster is left as it is
   and reported (a tail file may be uncommitted: merging it into a committed range would hide
   it from the takeover clean-up).
2. One merged file, named after the union of the ranges, gets every row key of every input
   exactly once. The key is the dataset's row key (results: ``trace_id``, ``evaluator``,
   ``kafka_topic``, ``kafka_partition``, ``kafka_offset``; the trace id is a function of the
   source offset, so this is the ``(kafka_topic, kafka_partition, kafka_offset, evaluator)``
   key). A key's rows are taken from *one* input, all of them (a span-targeted evaluator has
   several rows per key, one per span): the input written last (listing time, ties by name,
   the later name first). Which copy came from the partition's newer owner cannot be known
   here: compaction reads no Kafka offsets, and by the time a file may be merged both copies
   lie below the owner's committed offset; the later write is the most recent scoring, and
   the choice is the same on every run and every store.
3. Crash safety as for a merge (:mod:`~pipeline.tools.maintenance.compaction`): the merged
   file is written once under its final name, its key columns are read back and compared
   row for row with what was meant to be written, and only then are the inputs deleted. A
   crash between the write and the deletes leaves a file whose range contains every input and
   holds each of their keys, so the next run's recovery deletes the inputs; no step loses a
   row, and the duplicate rows stay visible at worst until the next run.

The report counts the duplicate rows dropped (:class:`Heal`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.sinks.dataset import DatasetKind, HourDir, file_name
from pipeline.sinks.objects import read_table, write_parquet
from pipeline.tools.maintenance.compaction_report import CompactReport, Heal
from pipeline.tools.maintenance.layout import DataFile, MaintenanceError, fsync_dir

_EPOCH = datetime.fromtimestamp(0, UTC)


def overlap_clusters(files: list[DataFile]) -> list[list[DataFile]]:
    """The files (sorted by first offset) split into runs linked by overlapping ranges; a
    file overlapping none is a run of one."""
    clusters: list[list[DataFile]] = []
    reach = -1
    for data in files:
        if clusters and data.first <= reach:
            clusters[-1].append(data)
            reach = max(reach, data.last)
        else:
            clusters.append([data])
            reach = data.last
    return clusters


def preference(files: list[DataFile]) -> list[DataFile]:
    """The order in which inputs give their rows: the latest write first, ties by name
    (the later name first)."""
    return sorted(files, key=lambda f: (f.mtime or _EPOCH, f.path.name), reverse=True)


def keys_of(table: pa.Table, kind: DatasetKind) -> list[tuple]:
    return list(zip(*(table.column(name).to_pylist() for name in kind.row_key), strict=True))


def dedupe(tables: list[pa.Table], kind: DatasetKind) -> tuple[pa.Table, Counter]:
    """One table holding each row key of ``tables`` (most preferred first) once: all rows
    of a key from the first table that has it. Also the expected key counts."""
    seen: set[tuple] = set()
    kept_parts, expected = [], Counter()
    for table in tables:
        keys = keys_of(table, kind)
        mask = [key not in seen for key in keys]
        seen.update(keys)
        kept = table.filter(pa.array(mask, pa.bool_()))
        expected.update(key for key, keep in zip(keys, mask, strict=True) if keep)
        kept_parts.append(kept)
    return pa.concat_tables(kept_parts), expected


def heal_cluster(
    hour: HourDir,
    kind: DatasetKind,
    cluster: list[DataFile],
    sort_key: list[tuple[str, str]],
    dry_run: bool,
    report: CompactReport,
) -> None:
    """Replace one cluster of overlapping files (all mergeable) by one merged file holding
    each row key once; see the module docstring."""
    first = min(f.first for f in cluster)
    last = max(f.last for f in cluster)
    head = cluster[0]
    label = f"{head.topic}-p{head.partition}"
    target = hour.path / file_name(head.topic, head.partition, first, last)
    if target.exists():
        report.skipped.append((hour.path, f"{label}: overlapping offsets; {target.name} exists"))
        return
    ordered = preference(cluster)
    try:
        tables = [read_table(data.path) for data in ordered]
    except FileNotFoundError:
        report.skipped.append((hour.path, f"{label}: an overlapping file vanished"))
        return
    schema = tables[0].schema
    if any(not t.schema.equals(schema, check_metadata=True) for t in tables[1:]):
        report.skipped.append(
            (hour.path, f"{label}: overlapping offsets in files of different schemas")
        )
        return
    merged, expected = dedupe(tables, kind)
    if not _inside(merged, kind, hour):
        report.skipped.append((hour.path, f"{label}: overlapping offsets; rows outside the hour"))
        return
    merged = merged.take(pc.sort_indices(merged, sort_keys=sort_key))  # stable sort
    total = sum(len(t) for t in tables)
    heal = Heal(hour.path, target, [d.path for d in cluster], len(merged), total - len(merged))
    report.heals.append(heal)
    if dry_run:
        return
    stamps = [d.mtime.timestamp() for d in cluster if d.mtime is not None]
    if not write_parquet(target, merged, replace=False, mtime=max(stamps, default=None)):
        report.heals.pop()
        report.skipped.append((hour.path, f"{label}: {target.name} appeared meanwhile"))
        return
    written = Counter(keys_of(read_table(target, columns=list(kind.row_key)), kind))
    if written != expected:
        raise MaintenanceError(f"{target} does not hold the healed rows; inputs kept")
    for data in cluster:
        data.path.delete()
    fsync_dir(hour.path)


def _inside(table: pa.Table, kind: DatasetKind, hour: HourDir) -> bool:
    if not len(table):
        return True
    stamps = table.column(kind.time_column)
    start, end = pa.scalar(hour.start, stamps.type), pa.scalar(hour.end, stamps.type)
    return not (
        pc.less(pc.min(stamps), start).as_py() or pc.greater_equal(pc.max(stamps), end).as_py()
    )
