"""Consumer lag of the partitions a worker reads: for its idle check and its lag gauges."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from typing import Any

from pipeline.kafka.lag import offsets_behind, partition_lag
from pipeline.worker import faust_compat
from pipeline.worker.checkpoint import NOT_COMMITTED, Checkpoint
from pipeline.worker.observers import StreamObserver

log = logging.getLogger(__name__)


class LagReport:
    """Unread messages per assigned partition of ``topics`` (the input and scored topics, and
    the session topics when sessions are on)."""

    def __init__(
        self,
        consumer: Callable[[], Any],
        topics: Collection[str],
        checkpoint: Checkpoint,
        observer: StreamObserver,
        interval_seconds: float,
        fresh_topics: Collection[str] = (),
    ) -> None:
        """``fresh_topics`` are measured against end offsets asked of the broker, not the
        last fetch's highwaters (under exactly-once those can be stale: the session topics'
        idle check stopped too early)."""
        self.consumer = consumer
        self.topics = set(topics) | set(fresh_topics)
        self.fresh_topics = set(fresh_topics)
        self.checkpoint = checkpoint
        self.observer = observer
        self.interval_seconds = interval_seconds
        self._last_report = 0.0

    def watched(self) -> list[Any]:
        return [tp for tp in self.consumer().assignment() if tp.topic in self.topics]

    async def lag(self) -> dict[Any, int]:
        """Unread messages per watched partition (end offset minus position; -1: unknown)."""
        consumer = self.consumer()
        lag = await partition_lag(consumer, self.watched())
        fresh = [tp for tp in lag if tp.topic in self.fresh_topics]
        if fresh:
            ends = await faust_compat.fresh_end_offsets(consumer, fresh)
            for tp in fresh:
                position = await consumer.position(tp)
                end = ends.get(tp)
                known = position is not None and end is not None
                lag[tp] = max(end - position, 0) if known else -1
        return lag

    async def report_if_due(self) -> None:
        """The lag gauges, once per interval: end offset minus committed, and minus processed
        (durable), per watched partition. Never raises: a metric must not stop the worker."""
        if time.monotonic() - self._last_report < self.interval_seconds:
            return
        self._last_report = time.monotonic()
        try:
            await self._report()
        except Exception as exc:
            log.warning("consumer lag not measured: %r", exc)

    async def _report(self) -> None:
        tps = self.watched()
        checkpoint = self.checkpoint
        behind = await offsets_behind(
            self.consumer(),
            {
                "committed": {tp: checkpoint.committed.get(tp, NOT_COMMITTED) for tp in tps},
                "processed": {tp: checkpoint.durable.get(tp, NOT_COMMITTED) for tp in tps},
            },
        )
        self.observer.on_lag(behind["committed"], behind["processed"])
