"""Sends that commit atomically with the consumer offsets that produced them.

With ``processing_guarantee="exactly_once"`` faust keeps one transactional producer per
assigned input partition (transactional id ``<app id>-<topic group>-<partition>``) and
commits each transaction together with that partition's offsets. faust picks the producer
from the *destination* partition, which is only right for co-partitioned topics; we name the
*source* partition instead, so scored traces can be keyed by trace id on any partition count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


class TransactionalSender:
    """Schedules sends without awaiting each one; ``drain`` waits for all of them."""

    def __init__(self, app: Any, exactly_once: bool) -> None:
        self.app = app
        self.exactly_once = exactly_once
        self._pending: list[Awaitable[Any]] = []

    def transactional_id(self, source_topic: str, source_partition: int) -> str | None:
        if not self.exactly_once:
            return None
        group = self.app.assignor.group_for_topic(source_topic)
        return f"{self.app.conf.id}-{group}-{source_partition}"

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        source_topic: str,
        source_partition: int,
        partition: int | None = None,
    ) -> None:
        """``partition``: an explicit destination (a table's changelog); else by key."""
        transactional_id = self.transactional_id(source_topic, source_partition)
        self._pending.append(
            asyncio.ensure_future(
                self.app.producer.send(
                    topic, key, value, partition, None, None, transactional_id=transactional_id
                )
            )
        )

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self, raise_errors: bool = True) -> None:
        """Wait until Kafka acknowledged every scheduled send (raises if one failed)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        delivered = await asyncio.gather(*pending, return_exceptions=not raise_errors)
        futures = [d for d in delivered if not isinstance(d, BaseException)]
        await asyncio.gather(*futures, return_exceptions=not raise_errors)
