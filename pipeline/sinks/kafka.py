"""Sends that commit atomically with the consumer offsets that produced them.

With ``processing_guarantee="exactly_once"`` faust keeps one transactional producer per
assigned input partition (transactional id ``<app id>-<topic group>-<partition>``) and
commits each transaction together with that partition's offsets. faust picks the producer
from the *destination* partition, which is only right for co-partitioned topics; we name the
*source* partition instead, so scored traces can be keyed by trace id on any partition count.

Sends are handed to the (transactional) aiokafka producer by one task per burst of sends,
not one task per message (issue 20: the per-message tasks and faust's per-send lock were
~6 % of the worker's CPU). That is safe without faust's per-transaction lock because every
send is scheduled under the worker's lock and the commit, under the same lock, first waits
for all of them (``drain``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from pipeline.worker import faust_compat


class TransactionalSender:
    """Schedules sends without awaiting each one; ``drain`` waits for all of them."""

    def __init__(self, app: Any, exactly_once: bool) -> None:
        self.app = app
        self.exactly_once = exactly_once
        self._queued: deque[
            tuple[str, bytes | None, bytes | None, str | None, int | None, list[Any] | None]
        ] = deque()
        self._pump: asyncio.Future[None] | None = None
        self._delivery: list[asyncio.Future[Any]] = []
        # per send, faust's settings lookup of the app id and the assignor property were
        # ~1 % of the worker's CPU (issue 20): both are fixed for the app's life, looked up
        # once; the topic's group is asked every time (an assignment may change it)
        self._assignor: Any = None
        self._ids: dict[tuple[int, int], str] = {}

    def transactional_id(self, source_topic: str, source_partition: int) -> str | None:
        if not self.exactly_once:
            return None
        if self._assignor is None:
            self._assignor = self.app.assignor
        group = self._assignor.group_for_topic(source_topic)
        found = self._ids.get((group, source_partition))
        if found is None:
            found = self._ids[group, source_partition] = (
                f"{self.app.conf.id}-{group}-{source_partition}"
            )
        return found

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        source_topic: str,
        source_partition: int,
        partition: int | None = None,
        delivery: list[Any] | None = None,
    ) -> None:
        """``partition``: an explicit destination (a table's changelog, the source partition
        of a scored trace when Parquet rows come from memory); else by key. ``delivery``: a
        list the send's delivery future is appended to (its ``RecordMetadata`` gives the
        record's offset once ``drain`` returned)."""
        transactional_id = self.transactional_id(source_topic, source_partition)
        self._queued.append((topic, key, value, transactional_id, partition, delivery))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.ensure_future(self._send_queued())

    async def _send_queued(self) -> None:
        """Hand every queued send to its producer, in order; never raises (a failed send
        becomes a failed delivery future, raised by ``drain``)."""
        loop = asyncio.get_running_loop()
        producer = self.app.producer
        while self._queued:
            topic, key, value, transactional_id, partition, wanted = self._queued.popleft()
            try:
                delivery = await faust_compat.send_in_transaction(
                    producer, transactional_id, topic, key, value, partition
                )
            except Exception as exc:
                delivery = loop.create_future()
                delivery.set_exception(exc)
            self._delivery.append(delivery)
            if wanted is not None:
                wanted.append(delivery)

    @property
    def pending(self) -> int:
        return len(self._queued) + sum(not d.done() for d in self._delivery)

    async def drain(self, raise_errors: bool = True) -> None:
        """Wait until Kafka acknowledged every scheduled send (raises if one failed)."""
        if self._pump is not None:
            await self._pump
            self._pump = None
        if not self._delivery:
            return
        delivered, self._delivery = self._delivery, []
        await asyncio.gather(*delivered, return_exceptions=not raise_errors)
