"""Whether Kafka is reachable right now, known before a request has to find out.

A background probe (cluster metadata, bounded by the Kafka timeout) keeps ``up`` current, so
during an outage requests are refused at once with 503 / ``UNAVAILABLE`` and ``Retry-After``
instead of waiting for a send that cannot succeed, and ``/ready`` tells the truth. A failed
send marks the link down immediately; the probe brings it back up once Kafka answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)


class KafkaLink:
    """Kafka's state as the receiver sees it; probes every ``interval`` seconds."""

    def __init__(self, client: Callable[[], Any], timeout: float, interval: float = 0.5) -> None:
        self._client = client  # the current producer's client (the producer can be renewed)
        self._timeout = timeout
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.up = True
        self.error = ""

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._probe_forever())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def mark_down(self, error: str) -> None:
        if self.up:
            log.warning(
                "Kafka unreachable (%s): answering 503 / UNAVAILABLE until it is back", error
            )
        self.up, self.error = False, error

    def _mark_up(self) -> None:
        if not self.up:
            log.warning("Kafka reachable again: accepting spans")
        self.up, self.error = True, ""

    async def probe(self) -> bool:
        try:
            client = self._client()
            if client is None:
                raise KafkaError("no producer")
            await asyncio.wait_for(client.fetch_all_metadata(), self._timeout)
        except (KafkaError, TimeoutError, OSError) as exc:
            self.mark_down(str(exc) or type(exc).__name__)
            return False
        self._mark_up()
        return True

    async def _probe_forever(self) -> None:
        while True:
            await self.probe()
            await asyncio.sleep(self._interval)
