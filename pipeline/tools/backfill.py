"""Re-score history (a topic's offset/time range, or JSONL files) into Parquet, idempotently.

Why idempotent by construction: input is cut into chunks aligned to absolute offsets (or
line numbers) of ``chunk_size``, and each chunk is written through ``ParquetSink`` under a
name derived from the source and the offsets it holds
(``backfill-<topic>-p<P>-o<first>-<last>.parquet``). The same run twice cuts the same chunks,
writes the same names, and each replaces the earlier file whole (local disk: an atomic rename;
an object store: one PUT of the same key): no duplicate row. The dataset may be local or in an
object store (:mod:`pipeline.sinks.storage`). Into Delta tables, each chunk is one
replace-where commit per table instead (:mod:`pipeline.sinks.delta_backfill`): same rule.
Rows come from ``RecordEncoder.scored_row`` + ``ParquetSink.add``, exactly like the worker's,
so the schema cannot drift and the rows are redacted the same way. No consumer group and no
faust: nothing here moves a worker's offsets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from kafka import TopicPartition

from evaluators.config import EvaluatorConfig, EvaluatorSettings, parse_config
from pipeline.decode.trace import DecodeError, decode_trace
from pipeline.evaluate.scorer import Scorer, SourcedTrace
from pipeline.exceptions import InputFileError, PipelineError
from pipeline.ingest.files.trace_files import read_input_file
from pipeline.kafka.clients import make_consumer
from pipeline.settings import Settings
from pipeline.sinks.dataset import Root, data_files, dataset_roots
from pipeline.sinks.delta_backfill import DeltaBackfillSink
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.parquet import ParquetSink
from pipeline.sinks.storage import Location, locate

SCORE_BATCH = 500
MAX_LISTED_BAD = 1000


@dataclass(frozen=True)
class RawMessage:
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Chunk:
    """Messages of one source partition whose offsets fall in one aligned block."""

    label: str  # file-name prefix after "backfill-": the topic, or file stem + path hash
    source: str  # value of the kafka_topic column
    partition: int
    first: int  # block range (inclusive) actually covered by this read
    last: int
    messages: list[RawMessage]


@dataclass(frozen=True)
class BadMessage:
    where: str
    reason: str
    raw: bytes | None = None
    key: bytes | None = None
    source: str = ""
    partition: int = 0
    offset: int = 0


@dataclass
class BackfillReport:
    read: int = 0
    scored: int = 0
    rows: int = 0
    files: list[Location] = field(default_factory=list)
    replaced: list[Location] = field(default_factory=list)
    overlapping: list[Location] = field(default_factory=list)
    bad: list[BadMessage] = field(default_factory=list)
    bad_count: int = 0
    commits: int = 0  # Delta: one per table and chunk


def backfill_config(config: EvaluatorConfig, names: Sequence[str] | None) -> EvaluatorConfig:
    """The config restricted to ``names`` (a name the config lacks runs with defaults)."""
    if not names:
        return config
    tables = config.evaluators or {}
    chosen = {name: tables.get(name, EvaluatorSettings()) for name in names}
    return config.model_copy(update={"evaluators": chosen})


def load_backfill_config(path: Path | None) -> EvaluatorConfig:
    """The evaluator TOML without its ``[[alerts]]`` array (the alert rules read that)."""
    import tomllib

    if path is None:
        return EvaluatorConfig()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read config: {exc}") from None
    data.pop("alerts", None)
    return parse_config(data, origin=str(path))


# --------------------------------------------------------------------------- sources


def topic_chunks(
    settings: Settings,
    topic: str,
    *,
    start_offset: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    chunk_size: int = 5000,
) -> tuple[int, Iterator[Chunk]]:
    """(messages in range, chunks): every partition from its start to its end offset."""
    consumer = make_consumer(settings, "evalstream-backfill", group_id=None)
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        consumer.close()
        raise PipelineError(f"topic {topic!r} does not exist")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    first, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
    starts = {tp: max(first[tp], start_offset or 0) for tp in tps}
    if start_time is not None:
        starts = _offsets_at(consumer, tps, start_time, ends)
    if end_time is not None:
        ends = _offsets_at(consumer, tps, end_time, ends)
    total = sum(max(0, ends[tp] - starts[tp]) for tp in tps)

    def chunks() -> Iterator[Chunk]:
        try:
            for tp in tps:
                yield from _partition_chunks(consumer, tp, starts[tp], ends[tp], chunk_size)
        finally:
            consumer.close()

    return total, chunks()


def _offsets_at(consumer, tps, when: datetime, ends) -> dict[TopicPartition, int]:
    found = consumer.offsets_for_times({tp: int(when.timestamp() * 1000) for tp in tps})
    return {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in tps}


def _partition_chunks(consumer, tp, start: int, end: int, size: int) -> Iterator[Chunk]:
    if start >= end:
        return
    consumer.assign([tp])
    consumer.seek(tp, start)
    block, pending = start // size, []
    while consumer.position(tp) < end:
        for record in consumer.poll(timeout_ms=1000).get(tp, []):
            if record.offset >= end:
                break
            if record.offset // size != block:
                yield _chunk(tp, block, size, start, end, pending)
                block, pending = record.offset // size, []
            pending.append(RawMessage(record.offset, record.value, record.key, record.timestamp))
    yield _chunk(tp, block, size, start, end, pending)


def _chunk(tp, block: int, size: int, start: int, end: int, messages) -> Chunk:
    first, last = max(block * size, start), min((block + 1) * size, end) - 1
    return Chunk(tp.topic, tp.topic, tp.partition, first, last, messages)


def file_chunks(paths: Sequence[Path], chunk_size: int = 5000) -> tuple[int, Iterator[Chunk]]:
    """(lines, chunks) of JSONL files; each file is read up front so a bad path fails early."""
    loaded = []
    for path in paths:
        lines = read_input_file(str(path)).splitlines()
        digest = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:10]
        loaded.append((f"{Path(path).stem}-{digest}", f"file:{Path(path).name}", lines))

    def chunks() -> Iterator[Chunk]:
        for label, source, lines in loaded:
            for base in range(0, len(lines), chunk_size):
                numbered = [
                    RawMessage(number, line)
                    for number, line in enumerate(lines[base : base + chunk_size], start=base + 1)
                    if line.strip()
                ]
                last = min(base + chunk_size, len(lines))
                yield Chunk(label, source, 0, base + 1, last, numbered)

    return sum(len(lines) for _, _, lines in loaded), chunks()


# --------------------------------------------------------------------------- the run


def run_backfill(
    scorer: Scorer,
    chunks: Iterator[Chunk],
    root: Root,
    encoder: RecordEncoder,
    *,
    on_progress: Callable[[int], None] | None = None,
    delta: bool = False,
) -> BackfillReport:
    """Score every chunk and write it; replaces earlier backfill rows the chunk covers (with
    ``delta``, in Delta tables: :mod:`pipeline.sinks.delta_backfill`)."""
    report = BackfillReport()
    root = locate(root)
    try:
        for chunk in chunks:
            kind = DeltaBackfillSink if delta else partial(ParquetSink, overwrite=True)
            sink = kind(  # results, and the traces/spans datasets when bodies are stored
                root, store_traces=encoder.with_body, field_limit_bytes=encoder.field_limit_bytes
            )
            good: list[SourcedTrace] = []
            for message in chunk.messages:
                try:
                    trace = decode_trace(message.value, message.timestamp_ms)
                except DecodeError as exc:
                    _record_bad(report, chunk, message, exc.reason)
                    continue
                good.append(SourcedTrace(trace, chunk.source, chunk.partition, message.offset))
            report.read += len(chunk.messages)
            for i in range(0, len(good), SCORE_BATCH):
                for record in scorer.score(good[i : i + SCORE_BATCH]):
                    row = encoder.scored_row(record)
                    sink.add(row, f"backfill-{chunk.label}", chunk.partition, record.source.offset)
                    report.scored += 1
            report.rows += sink.buffered_rows
            if isinstance(sink, DeltaBackfillSink):
                committed = sink.replace(
                    chunk.source, chunk.label, chunk.partition, chunk.first, chunk.last
                )
                report.commits += len(committed)
            else:
                written = sink.flush()
                report.files.extend(written)
                _tidy(root, chunk, set(written), report)
            if on_progress is not None:
                on_progress(chunk.last - chunk.first + 1)
    finally:  # a failed chunk: close the topic reader's consumer now, not at exit
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return report


def _record_bad(report: BackfillReport, chunk: Chunk, message: RawMessage, reason: str) -> None:
    report.bad_count += 1
    if len(report.bad) < MAX_LISTED_BAD:
        where = (
            f"{chunk.source[5:]}:{message.offset}"
            if chunk.source.startswith("file:")
            else f"{chunk.source}/p{chunk.partition}/o{message.offset}"
        )
        report.bad.append(
            BadMessage(
                where,
                reason,
                message.value,
                message.key,
                chunk.source,
                chunk.partition,
                message.offset,
            )
        )


def _tidy(root: Location, chunk: Chunk, written: set[Location], report: BackfillReport) -> None:
    """Remove older backfill files inside this chunk's range, in each dataset; note those
    only overlapping it."""
    for dataset_root in dataset_roots(root).values():
        for data in data_files(dataset_root, f"backfill-{chunk.label}", chunk.partition):
            if data.path in written:
                continue
            if chunk.first <= data.first and data.last <= chunk.last:
                data.path.delete()
                report.replaced.append(data.path)
            elif data.overlaps(chunk.first, chunk.last):
                report.overlapping.append(data.path)
