"""The two stages of a worker, each run by one faust agent of ``worker/app.py``.

``ScoreStage``: input topic -> decode -> evaluators -> scored-traces / dead-letter sends and
window aggregates. ``ParquetStage``: scored-traces topic (or, ``add_rows``, the committed
batches' messages: ``worker/parquet_memory.py``) -> Parquet files. Scoring is not
held back by Parquet flushes, and Parquet files are named after the scored topic's offsets,
which only ever hold committed (read_committed) scored traces.

Each stage's ``create()`` wires its collaborators from settings; ``__init__`` only receives
them, so ``pipeline.worker.testing`` runs the same stages in-process. What they report goes
to a :class:`~pipeline.worker.observers.StreamObserver`, never straight to Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from pipeline.decode.trace import DecodeError, decode_trace
from pipeline.evaluate.scorer import Scorer, SourcedTrace
from pipeline.evaluate.windows import WindowAggregator
from pipeline.exceptions import SinkError
from pipeline.settings import Settings
from pipeline.sinks.dataset import SESSIONS, dataset_roots
from pipeline.sinks.delta import DeltaSink
from pipeline.sinks.delta_table import is_delta_table
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.kafka import TransactionalSender
from pipeline.sinks.parquet import ParquetSink, remove_uncommitted_in, remove_uncommitted_partitions
from pipeline.sinks.size import TooLargeError
from pipeline.sinks.storage import Location, locate
from pipeline.worker.observers import PrometheusObserver, StreamObserver
from pipeline.worker.parquet_memory import MemoryFeed, MemoryRecord, Row

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A scored batch waiting to be sent: dead letters and (record, message bytes) pairs,
    and with Parquet rows from memory each scored message as a dict (``messages``)."""

    dead: list[tuple[Any, bytes]] = field(default_factory=list)
    scored: list[tuple[Any, bytes]] = field(default_factory=list)
    messages: list[dict[str, Any] | None] = field(default_factory=list)


class ScoreStage:
    """Scores a batch of input events; its sends join the source partition's transaction."""

    def __init__(
        self,
        settings: Settings,
        scorer: Scorer,
        sender: TransactionalSender,
        encoder: RecordEncoder,
        windows: WindowAggregator,
        observer: StreamObserver,
        otel: Any = None,
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self.sender = sender
        self.encoder = encoder
        self.windows = windows
        self.observer = observer
        self.otel = otel  # a BackgroundOtlpExport, or None
        self.sessions: Any = None  # a pipeline.sessions.router.SessionRouter, or None
        self.feed: MemoryFeed | None = None  # Parquet rows from memory (parquet_memory.py)
        self.consumed = self.scored = self.dead_lettered = self.metrics_records = 0

    @classmethod
    def create(
        cls,
        settings: Settings,
        scorer: Scorer,
        sender: TransactionalSender,
        observer: StreamObserver | None = None,
    ) -> ScoreStage:
        """Wire the stage from settings (redaction, windows, the optional OTel export)."""
        observer = observer if observer is not None else PrometheusObserver()
        otel = None
        if settings.otel_results_endpoint:
            from pipeline.sinks.otel import OtlpResultExporter
            from pipeline.sinks.otel_queue import BackgroundOtlpExport

            otel = BackgroundOtlpExport(
                OtlpResultExporter(settings.otel_results_endpoint),
                max_batches=settings.otel_results_queue_batches,
                on_lost=partial(observer.on_results_lost, "otel"),
            )
        from pipeline.sessions.router import SessionRouter

        stage = cls(
            settings,
            scorer,
            sender,
            RecordEncoder.create(settings),
            WindowAggregator(settings.window_seconds, settings.worker_id),
            observer,
            otel,
        )
        stage.sessions = SessionRouter.create(settings)
        return stage

    async def prepare(self, events: Sequence[Any]) -> Prepared:
        """Decode, score and serialise a batch; sends nothing, so it runs outside the lock.

        Only ``send`` touches the transaction, so a commit can happen while the next batch
        is being scored without ever splitting a batch across two commits.
        """
        prepared = Prepared()
        good: list[SourcedTrace] = []
        messages: dict[tuple[int, int], Any] = {}
        for event in events:
            message = event.message
            try:
                trace = decode_trace(message.value, int(message.timestamp * 1000))
            except DecodeError as error:
                prepared.dead.append((message, self._dead_letter(error, message)))
                continue
            good.append(SourcedTrace(trace, message.topic, message.partition, message.offset))
            messages[message.partition, message.offset] = message
        if good:
            loop = asyncio.get_running_loop()
            scored = await loop.run_in_executor(None, self._score_and_serialise, good)
            for record, body, as_dict in scored:
                if isinstance(body, TooLargeError):
                    message = messages[record.source.partition, record.source.offset]
                    prepared.dead.append((message, self._dead_letter(body, message)))
                else:
                    prepared.scored.append((record, body))
                    prepared.messages.append(as_dict)
        return prepared

    def _dead_letter(self, error: DecodeError, message: Any) -> bytes:
        self.observer.on_dead_letter(error.error_type)
        return self.encoder.dead_letter_of(error, message)

    def _score_and_serialise(self, good: list[SourcedTrace]) -> list[tuple[Any, Any, Any]]:
        """(record, message bytes, message dict or None), or (record, TooLargeError, None)
        for a trace whose scored message cannot fit in one Kafka message: it is
        dead-lettered instead. The dict only with Parquet rows from memory."""
        serialised: list[tuple[Any, Any, Any]] = []
        keep = self.feed is not None
        for record in self.scorer.score(good):
            try:
                body, as_dict = self.encoder.scored_message(record)
                serialised.append((record, body, as_dict if keep else None))
            except TooLargeError as error:
                serialised.append((record, error, None))
        return serialised

    async def send(self, events: Sequence[Any], prepared: Prepared) -> None:
        """Hand a prepared batch to the producer (inside the current transactions)."""
        self.consumed += len(events)
        self.observer.on_consumed(len(events))
        for message, body in prepared.dead:
            self.sender.send(
                self.settings.dlq_topic, message.key, body, message.topic, message.partition
            )
        self.dead_lettered += len(prepared.dead)
        topic = self.settings.scored_topic
        feed = self.feed
        if feed is None:
            for record, body in prepared.scored:
                src = record.source
                key = record.trace.trace_id.encode()
                self.sender.send(topic, key, body, src.topic, src.partition)
        else:  # to the source's partition: one writer per scored partition (parquet_memory)
            for (record, body), as_dict in zip(prepared.scored, prepared.messages, strict=True):
                src = record.source
                delivery = feed.sent(src.partition, body, as_dict)
                key = record.trace.trace_id.encode()
                send = self.sender.send
                send(topic, key, body, src.topic, src.partition, src.partition, delivery)
        if self.sessions is not None:  # traces with a session id, re-keyed, same transaction
            self.sessions.route(self.sender, prepared.scored)
        scored = [record for record, _ in prepared.scored]
        self.windows.add(scored)
        self.scored += len(scored)
        if self.otel is not None and scored:
            # best effort and off the scoring path: never blocks, never raises (otel_queue)
            self.otel.submit(self.encoder.for_otel(scored))
        self.observer.on_scored(scored)

    def emit_windows(self) -> None:
        """Send the windows collected since the last commit (called right before it)."""
        topic, input_topic = self.settings.metrics_topic, self.settings.input_topic
        for record in self.windows.drain():
            key, value = self.encoder.window(record)
            self.sender.send(topic, key, value, input_topic, record.source_partition)
            self.metrics_records += 1


class ParquetStage:
    """Buffers scored traces into Parquet; events are acked only after their file is in place."""

    def __init__(self, sink: ParquetSink | DeltaSink, observer: StreamObserver) -> None:
        self.sink = sink
        self.observer = observer
        self.pending: list[Any] = []
        # held while rows are added and while a flush writes (in an executor thread, outside
        # the worker's lock, so commits go on meanwhile): one flush at a time, no row added
        # to a buffer being written
        self.busy = asyncio.Lock()

    @classmethod
    def create(cls, settings: Settings, observer: StreamObserver | None = None) -> ParquetStage:
        root = locate(settings.parquet_dir, settings)
        sink_type = DeltaSink if settings.table_format == "delta" else ParquetSink
        if sink_type is ParquetSink and is_delta_table(root):
            raise SinkError(
                f"{settings.parquet_dir} is a Delta table: set EVALSTREAM_TABLE_FORMAT=delta to"
                " write to it, or point EVALSTREAM_PARQUET_DIR at another directory"
            )
        sink = sink_type(
            root,
            settings.parquet_flush_rows,
            settings.parquet_flush_seconds,
            store_traces=settings.store_traces,
            field_limit_bytes=settings.field_limit_bytes,
        )
        return cls(sink, observer if observer is not None else PrometheusObserver())

    def add(self, events: Sequence[Any]) -> None:
        for event in events:
            message = event.message
            self.sink.add(
                orjson.loads(message.value), message.topic, message.partition, message.offset
            )
            self.pending.append(event)

    def add_rows(self, topic: str, tp_of: Any, rows: Sequence[Row]) -> None:
        """Rows from memory (``parquet_memory.MemoryFeed``): the same as ``add`` of the
        records at these scored offsets, without reading or decoding them."""
        for partition, offset, message in rows:
            self.sink.add(message, topic, partition, offset)
            self.pending.append(MemoryRecord(tp_of(partition), offset))

    def should_flush(self) -> bool:
        return bool(self.pending) and self.sink.should_flush()

    async def flush(self, stream: Any) -> dict[Any, int]:
        """Write every buffered row durably, ack the events, and return, per partition, the
        offset up to which everything is now durable (last offset + 1)."""
        if not self.pending:
            return {}
        durable: dict[Any, int] = {}
        for event in self.pending:
            tp = event.message.tp
            durable[tp] = max(durable.get(tp, 0), event.message.offset + 1)
        await self._flush_until_written()
        for event in self.pending:
            await stream.ack(event)
        self.pending.clear()
        return durable

    async def _flush_until_written(self) -> None:
        """Retry a failing write (full or read-only disk) with backoff instead of crashing.

        The caller holds ``busy``, so the Parquet loop takes nothing more; its channel fills
        and then faust's fetch loop waits, which pauses scoring too: that is the
        backpressure. Nothing is durable meanwhile, and a rewrite replaces any file a failed
        attempt left.
        """
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            try:
                with self.observer.sink_flush("parquet"):
                    await loop.run_in_executor(None, self.sink.flush)
                return
            except SinkError as exc:
                self.observer.on_sink_error("parquet")
                log.error(
                    "Parquet write failed, consumption paused, retrying in %.1fs: %s", delay, exc
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    @staticmethod
    def remove_uncommitted(root: Location, topic: str, committed: dict[int, int]) -> int:
        """Delete files past each partition's committed offset; returns how many. A Delta
        table has none to delete: its commits skip what they already hold (sinks/delta.py);
        the sessions dataset beside it is Parquet files in both formats."""
        if is_delta_table(root):
            return len(remove_uncommitted_in(dataset_roots(root)[SESSIONS], topic, committed))
        return len(remove_uncommitted_partitions(root, topic, committed))
