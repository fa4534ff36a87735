"""Run the worker's real stages in-process: messages in, sends and Parquet files out, with
no faust and no broker (the idea of bytewax's ``pysrc/bytewax/testing.py``: the real
dataflow code, test inputs and outputs).

``StageHarness`` builds a ``ScoreStage`` and a ``ParquetStage`` through their ``create()``
(the wiring the worker uses), replaces only the two faust-facing edges (the transactional
sender and the stream that acks), and lets a test drive a batch through decode, scoring,
encoding, window aggregation and the Parquet write::

    harness = StageHarness(load_settings(parquet_dir=tmp_path), scorer)
    sent = harness.score([InputMessage("traces", 0, 0, orjson.dumps(trace))])
    harness.write_parquet()

It can also crash and resume, as the worker does under exactly-once: ``produce`` puts messages
on an in-memory input topic, ``poll`` runs the scoring agent over what it has not read yet,
``commit`` is the worker's commit (the real :class:`~pipeline.worker.checkpoint.Checkpoint`:
windows out, sends drained, offsets committed with each source partition's transaction), and
``crash`` loses everything not committed: open transactions are aborted, the stages (their
windows and Parquet buffers) and the checkpoint are built anew, reading resumes from the
committed offsets, and Parquet files past them are removed as on a partition assignment::

    harness.produce([orjson.dumps(trace) for trace in traces])
    harness.poll(max_messages=5); harness.commit(); harness.poll(); harness.crash()
    harness.poll(); harness.commit(); harness.write_parquet()  # every trace once

``committed(topic)`` is what a read_committed consumer sees of an output topic; the Parquet
stage reads the scored topic that way. Under ``at_least_once`` a send is visible at once and
a crash does not take it back (a replay sends it again), as with Kafka.

The real broker path is covered by the worker's integration tests; this is for testing what
the stages decide, quickly and deterministically.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pipeline.evaluate.scorer import Scorer
from pipeline.settings import Settings
from pipeline.worker.checkpoint import Checkpoint
from pipeline.worker.observers import StreamObserver
from pipeline.worker.stages import ParquetStage, ScoreStage


class Partition(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True)
class InputMessage:
    """A consumed Kafka message, as the stages read it (faust's ``event.message``)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    timestamp: float = 0.0  # seconds since the epoch, like faust's

    @property
    def tp(self) -> Partition:
        return Partition(self.topic, self.partition)


@dataclass(frozen=True)
class Event:
    message: InputMessage


@dataclass(frozen=True)
class Sent:
    """One send the stage scheduled, with the source partition whose transaction it joins."""

    topic: str
    key: bytes | None
    value: bytes
    source: Partition


@dataclass
class CollectingSender:
    """The transactional sender's interface, keeping every send in memory.

    ``sent`` is every send scheduled, ``committed`` what a read_committed consumer sees: under
    exactly-once a send waits in its source partition's open transaction until
    ``commit_transactions``; ``abort`` drops what is open (a crash).
    """

    exactly_once: bool = False
    sent: list[Sent] = field(default_factory=list)
    committed: list[Sent] = field(default_factory=list)
    open: dict[Partition, list[Sent]] = field(default_factory=dict)
    drained: int = 0

    def transactional_id(self, source_topic: str, source_partition: int) -> str | None:
        return None

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        source_topic: str,
        source_partition: int,
        partition: int | None = None,
    ) -> None:
        sent = Sent(topic, key, value, Partition(source_topic, source_partition))
        self.sent.append(sent)
        if self.exactly_once:
            self.open.setdefault(sent.source, []).append(sent)
        else:
            self.committed.append(sent)

    def commit_transactions(self, sources: Iterable[Partition]) -> None:
        for source in sources:
            self.committed.extend(self.open.pop(source, []))

    def abort(self) -> None:
        self.open.clear()

    @property
    def pending(self) -> int:
        return len(self.sent) - self.drained

    async def drain(self, raise_errors: bool = True) -> None:
        self.drained = len(self.sent)

    def to(self, topic: str) -> list[Sent]:
        return [s for s in self.sent if s.topic == topic]


@dataclass
class AckingStream:
    """The stream's ``ack``: records which events were acked."""

    acked: list[InputMessage] = field(default_factory=list)

    async def ack(self, event: Event) -> None:
        self.acked.append(event.message)


class KafkaOffsets:
    """The group's committed offsets, as Kafka keeps them across a crash; commits the
    transactions of the partitions it commits (the checkpoint's ``OffsetCommitter``)."""

    def __init__(self, sender: CollectingSender) -> None:
        self.sender = sender
        self.offsets: dict[Partition, int] = {}

    async def commit(self, offsets: dict[Any, int]) -> dict[Any, int]:
        self.sender.commit_transactions(offsets)
        self.offsets.update(offsets)
        return offsets


class StageHarness:
    """The worker's two stages, wired by ``create()``, around in-memory edges."""

    def __init__(
        self, settings: Settings, scorer: Scorer, observer: StreamObserver | None = None
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self._observer = observer
        self.sender = CollectingSender(settings.processing_guarantee == "exactly_once")
        self.kafka = KafkaOffsets(self.sender)
        self.input: dict[int, list[InputMessage]] = defaultdict(list)  # the input topic
        self.crashes = 0
        self._start()

    def _start(self) -> None:
        """A worker process starts: new stages and checkpoint, reading from the committed
        offsets; Parquet files past them are removed (what ``_on_assigned`` does)."""
        settings = self.settings
        self.stream = AckingStream()  # the Parquet agent's stream
        self.input_stream = AckingStream()  # the scoring agent's stream
        self.stage = ScoreStage.create(settings, self.scorer, self.sender, self._observer)
        self.parquet = ParquetStage.create(settings, self._observer)
        self.checkpoint = Checkpoint(
            self.kafka,
            flush_sinks=self.stage.emit_windows,
            wait_for_sends=self.sender.drain,
            assignment=lambda: set(self.checkpoint.durable),
        )
        for tp, offset in self.kafka.offsets.items():
            self.checkpoint.start(tp, offset, 0)
        committed = self.kafka.offsets
        self._read = {p: committed.get(Partition(settings.input_topic, p), 0) for p in self.input}
        self._scored_read: dict[int, int] = defaultdict(int)
        scored = {
            tp.partition: o for tp, o in committed.items() if tp.topic == settings.scored_topic
        }
        self._scored_read.update(scored)
        for partition in self._scored_partitions():
            scored.setdefault(partition, 0)
        if scored:
            root = self.parquet.sink.root
            ParquetStage.remove_uncommitted(root, settings.scored_topic, scored)

    def score(self, messages: list[InputMessage]) -> list[Sent]:
        """One batch as the scoring agent runs it: ``prepare``, ``send``, ack, and mark the
        offsets durable; returns the sends it scheduled."""
        before = len(self.sender.sent)
        events = [Event(m) for m in messages]

        async def run() -> None:
            prepared = await self.stage.prepare(events)
            await self.stage.send(events, prepared)
            for event in events:
                await self.input_stream.ack(event)

        asyncio.run(run())
        self.checkpoint.mark_durable({m.tp: m.offset + 1 for m in messages})
        return self.sender.sent[before:]

    def emit_windows(self) -> list[Sent]:
        before = len(self.sender.sent)
        self.stage.emit_windows()
        return self.sender.sent[before:]

    def produce(self, values: Iterable[bytes], partition: int = 0) -> list[InputMessage]:
        """Append messages to the in-memory input topic; ``poll`` reads them."""
        log = self.input[partition]
        self._read.setdefault(partition, 0)
        topic = self.settings.input_topic
        added = [InputMessage(topic, partition, len(log) + i, v) for i, v in enumerate(values)]
        log.extend(added)
        return added

    def poll(self, max_messages: int | None = None) -> list[Sent]:
        """Score, as one batch, up to ``max_messages`` produced messages not read yet."""
        batch: list[InputMessage] = []
        for partition, log in sorted(self.input.items()):
            start = self._read[partition]
            room = None if max_messages is None else max_messages - len(batch)
            taken = log[start:] if room is None else log[start : start + room]
            batch.extend(taken)
            self._read[partition] = start + len(taken)
        return self.score(batch) if batch else []

    def commit(self) -> dict[Any, int]:
        """The worker's commit: windows out, sends drained, durable offsets committed (with
        their transactions); returns the offsets committed."""
        return asyncio.run(self.checkpoint.commit())

    def crash(self) -> None:
        """The process dies and a new one takes over: whatever was not committed is lost."""
        self.sender.abort()
        self.crashes += 1
        self._start()

    def committed(self, topic: str) -> list[Sent]:
        """The messages of an output topic a read_committed consumer sees, in order."""
        return [s for s in self.sender.committed if s.topic == topic]

    def _scored_partitions(self) -> set[int]:
        return {s.source.partition for s in self.committed(self.settings.scored_topic)}

    def write_parquet(self) -> dict[Any, int]:
        """Commit (the Parquet agent reads the scored topic read_committed), feed the Parquet
        stage every committed scored message it has not read (as the scored topic holds them,
        one offset after another per partition), flush, and mark the offsets durable; returns
        them."""
        self.commit()
        by_partition: dict[int, list[Sent]] = defaultdict(list)
        for sent in self.committed(self.settings.scored_topic):
            by_partition[sent.source.partition].append(sent)
        events = []
        for partition, sends in sorted(by_partition.items()):
            start = self._scored_read[partition]
            for offset, sent in enumerate(sends[start:], start):
                message = InputMessage(self.settings.scored_topic, partition, offset, sent.value)
                events.append(Event(message))
            self._scored_read[partition] = len(sends)
        self.parquet.add(events)
        durable = asyncio.run(self.parquet.flush(self.stream))
        self.checkpoint.mark_durable(durable)
        return durable
