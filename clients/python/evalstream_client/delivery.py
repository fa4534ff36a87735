"""The in-flight window between the producer's queue and Kafka's acknowledgements.

Sender threads take traces from the dispatched queue and hand them to kafka-python; each
trace holds one permit from dispatch until it is resolved (acknowledged, rejected, or given
up and overflowed), so at most ``max_in_flight`` traces wait in kafka-python's memory while
Kafka is down. Retriable failures are retried with exponential backoff until
``retry_timeout`` has passed since the first try; then the trace overflows (spill or drop).
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from evalstream_client.outage import KafkaHealth
from evalstream_client.stats import DeliveryCounters

log = logging.getLogger(__name__)


class Item:
    """One serialized trace on its way to Kafka; ``waiter`` is set by a synchronous caller."""

    __slots__ = ("attempts", "first_try", "key", "outcome", "seq", "value", "waiter")

    def __init__(self, seq: int, key: bytes, value: bytes, wait: bool = False) -> None:
        self.seq = seq
        self.key = key
        self.value = value
        self.first_try = 0.0
        self.attempts = 0
        self.outcome = ""  # sent / spilled / dropped / failed, once resolved
        self.waiter = threading.Event() if wait else None

    def settle(self, outcome: str) -> None:
        self.outcome = outcome
        if self.waiter is not None:
            self.waiter.set()


class Delivery:
    """Dispatched queue, permits, in-flight table and retry heap of one producer."""

    def __init__(
        self,
        topic: str,
        counters: DeliveryCounters,
        health: KafkaHealth,
        overflow: Callable[[list[Item], str], None],
        *,
        max_in_flight: int,
        retry_timeout: float,
    ) -> None:
        self.topic = topic
        self.retry_timeout = retry_timeout
        self.queue: queue.Queue[Item] = queue.Queue()  # dispatched, bounded by the permits
        self.permits = threading.BoundedSemaphore(max_in_flight)
        self.closing = False  # set by close(): failures are overflowed, no longer retried
        self._counters = counters
        self._health = health
        self._overflow = overflow
        self._lock = threading.Lock()
        self._pending: dict[int, Item] = {}
        self._retries: list[tuple[float, int, Item]] = []
        self._producer: Any = None

    def attach(self, producer: Any) -> None:
        """The link thread connected: senders may use ``producer`` from now on."""
        self._producer = producer

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def drained(self) -> bool:
        return not self.queue.unfinished_tasks

    def send_loop(self, stop: threading.Event) -> None:
        """Body of a sender thread."""
        while not stop.is_set():
            try:
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            item.first_try = item.first_try or time.monotonic()
            with self._lock:
                self._pending[item.seq] = item
            self._send(item)
            time.sleep(0)  # hand the GIL over: the application's thread is waiting for it

    def send_due_retries(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = []
            while self._retries and self._retries[0][0] <= now:
                due.append(heapq.heappop(self._retries)[2])
        for item in due:
            self._send(item)

    def take_unresolved(self) -> list[Item]:
        """At close: every trace waiting for a retry or an acknowledgement, now ours to spill.

        A trace waiting for a retry is in flight too: counted once (by ``seq``), not twice.
        """
        with self._lock:
            items = {item.seq: item for _, _, item in self._retries}
            items.update(self._pending)
            self._retries.clear()
            self._pending.clear()
        return list(items.values())

    def wait_resolved(self, deadline: float) -> None:
        """At close: let errbacks of aborted batches resolve their traces, until ``deadline``."""
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)

    def _send(self, item: Item) -> None:
        try:
            future = self._producer.send(self.topic, key=item.key, value=item.value)
        except Exception as exc:  # no metadata / buffer full / closed: same path as a failure
            self._on_error(item, exc)
            return
        future.add_callback(self._on_ack, item)
        future.add_errback(self._on_error, item)

    def _resolve(self, item: Item) -> bool:
        """Take ``item`` out of flight exactly once (callbacks can race with ``close``)."""
        with self._lock:
            if self._pending.pop(item.seq, None) is None:
                return False
        self.permits.release()
        self.queue.task_done()
        return True

    def _on_ack(self, item: Item, _metadata: Any) -> None:
        self._health.ok()
        if self._resolve(item):
            self._counters.add("sent")
            item.settle("sent")

    def _on_error(self, item: Item, exc: BaseException) -> None:
        retriable = bool(getattr(exc, "retriable", False))
        if retriable:
            self._health.trouble(exc)
        elapsed = time.monotonic() - item.first_try
        if retriable and not self.closing and elapsed < self.retry_timeout:
            item.attempts += 1
            due = time.monotonic() + min(0.5 * 2 ** (item.attempts - 1), 30.0)
            with self._lock:
                heapq.heappush(self._retries, (due, item.seq, item))
            self._counters.add("retried")
            return
        if not self._resolve(item):
            return
        if retriable or self.closing:
            self._overflow([item], f"unsent after {elapsed:.0f}s of retries ({exc})")
        else:
            self._counters.add("failed")
            item.settle("failed")
            log.error("Kafka rejected trace %s: %r (not retried)", item.key.decode(), exc)
