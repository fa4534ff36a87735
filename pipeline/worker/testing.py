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

The real broker path is covered by the worker's integration tests; this is for testing what
the stages decide, quickly and deterministically.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pipeline.evaluate.scorer import Scorer
from pipeline.settings import Settings
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
    """The transactional sender's interface, keeping every send in memory."""

    sent: list[Sent] = field(default_factory=list)
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
        self.sent.append(Sent(topic, key, value, Partition(source_topic, source_partition)))

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


class StageHarness:
    """The worker's two stages, wired by ``create()``, around in-memory edges."""

    def __init__(
        self, settings: Settings, scorer: Scorer, observer: StreamObserver | None = None
    ) -> None:
        self.settings = settings
        self.sender = CollectingSender()
        self.stream = AckingStream()
        self.stage = ScoreStage.create(settings, scorer, self.sender, observer)
        self.parquet = ParquetStage.create(settings, observer)
        self._next_scored_offset: dict[int, int] = defaultdict(int)
        self._fed = 0

    def score(self, messages: list[InputMessage]) -> list[Sent]:
        """One batch through ``prepare`` and ``send``; returns the sends it scheduled."""
        before = len(self.sender.sent)
        events = [Event(m) for m in messages]

        async def run() -> None:
            prepared = await self.stage.prepare(events)
            await self.stage.send(events, prepared)

        asyncio.run(run())
        return self.sender.sent[before:]

    def emit_windows(self) -> list[Sent]:
        before = len(self.sender.sent)
        self.stage.emit_windows()
        return self.sender.sent[before:]

    def write_parquet(self) -> dict[Any, int]:
        """Feed every scored send not fed yet to the Parquet stage (as the scored topic would,
        one offset after another per partition) and flush; returns the durable offsets."""
        scored = self.sender.to(self.settings.scored_topic)[self._fed :]
        self._fed += len(scored)
        events = []
        for sent in scored:
            partition = sent.source.partition
            offset = self._next_scored_offset[partition]
            self._next_scored_offset[partition] += 1
            message = InputMessage(self.settings.scored_topic, partition, offset, sent.value)
            events.append(Event(message))
        self.parquet.add(events)
        return asyncio.run(self.parquet.flush(self.stream))
