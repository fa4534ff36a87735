"""TraceProducer: log traces from an application without ever blocking it on Kafka.

Modelled on MLflow's async trace logging (worker threads, a bounded queue, retries for up to
500 s) minus its silent loss: when the queue is full the configured policy applies (``block``
with a limit, ``spill`` to disk and replay later, or ``drop`` and count), and every trace ends
up acknowledged by Kafka, in a spill file, or counted in ``stats()``. With
``async_logging=False`` (``EVALSTREAM_ENABLE_ASYNC_TRACE_LOGGING=false``, as MLflow's
``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING``) ``log_trace`` returns only once Kafka acknowledged.

Threads: the caller only validates, serializes and appends to an in-memory inbox (a
``collections.deque``); it takes no lock that a background thread could hold, so it never
waits for one (a background thread paused by the interpreter while holding a shared lock
stalled ``log_trace`` for up to 22 ms before: benchmarks/sdk_latency.py). A dispatcher thread
moves traces from the inbox to the ``Delivery`` window, whose ``async_max_workers`` sender
threads hand them to kafka-python. A maintenance thread writes and fsyncs the spill file,
logs overflows and outages and re-sends failed traces when their backoff is over; the link
thread (``ReplaySender``) connects to Kafka and replays spill segments.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import itertools
import logging
import queue
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalstream_client.delivery import Delivery, Item
from evalstream_client.exceptions import (
    ProducerClosedError,
    QueueFullError,
    TraceNotDeliveredError,
)
from evalstream_client.kafka_compat import close_producer
from evalstream_client.overflow import Overflow
from evalstream_client.parts import KafkaParts
from evalstream_client.settings import ClientSettings, Policy
from evalstream_client.stats import ProducerStats
from schemas import Trace, TraceValidationError

log = logging.getLogger(__name__)
CLOSE_SLACK = 0.4  # close(timeout) returns within timeout + 0.5 s: the steps after the wait


class TraceProducer:
    """Sends ``schemas.Trace`` messages to the traces topic from background threads."""

    def __init__(
        self,
        settings: Any = None,  # ClientSettings, or a look-alike such as the worker's Settings
        *,
        topic: str | None = None,
        max_workers: int | None = None,
        max_queue_size: int | None = None,
        retry_timeout: float | None = None,
        queue_full_policy: Policy | None = None,
        spill_dir: Path | str | None = None,
        async_logging: bool | None = None,
        sync_timeout: float | None = None,
        block_timeout: float = 5.0,
        max_in_flight: int | None = None,
        replay_interval: float = 1.0,
        drop_log_every: int = 1000,
        outage_log_interval: float | None = None,
        kafka_config: Mapping[str, Any] | None = None,
    ) -> None:
        s = ClientSettings.coerce(settings)
        self.topic = topic or s.input_topic
        self.policy: Policy = queue_full_policy or s.async_queue_full_policy  # type: ignore[assignment]
        self.retry_timeout = retry_timeout if retry_timeout is not None else s.async_retry_timeout
        self.async_logging = s.async_logging if async_logging is None else async_logging
        self.sync_timeout = s.sync_timeout if sync_timeout is None else sync_timeout
        self._max_queue = max_queue_size or s.async_max_queue_size
        self._block_timeout = block_timeout
        interval = s.outage_log_interval if outage_log_interval is None else outage_log_interval
        parts = KafkaParts.create(
            s,
            client_name="evalstream-sdk",
            topic=self.topic,
            spill_dir=Path(spill_dir or s.spill_dir),
            kafka_config=kafka_config,
            outage_log_interval=interval,
        )
        self._parts = parts
        self._config, self._stop, self._spill = parts.config, parts.stop, parts.spill
        self._counters, self._health = parts.counters, parts.health
        self._inbox: collections.deque[Item] = collections.deque()  # appended by the caller
        self._seq = itertools.count()
        self._closed = False
        self._overflow = Overflow(
            self.policy == "drop",
            self._spill,
            self._counters,
            log_every=drop_log_every,
            interval=interval,
        )
        self._delivery = Delivery(
            self.topic,
            self._counters,
            self._health,
            self._overflow.take,
            max_in_flight=max_in_flight or self._max_queue,
            retry_timeout=self.retry_timeout,
        )
        self._link = parts.replay_sender(
            on_connected=self._delivery.attach,
            busy=lambda: len(self._inbox) > self._max_queue // 2,  # live traffic first
            replay_interval=replay_interval,
        )
        self._threads = [
            parts.thread(self._delivery.send_loop, f"sender-{i}", self._stop)
            for i in range(max_workers or s.async_max_workers)
        ]
        self._threads += [parts.thread(self._maintain, "maintenance")]
        self._threads += [parts.thread(self._dispatch, "dispatch")]
        self._link_thread = parts.thread(self._link.run, "link")
        parts.watch_logs()
        for thread in [*self._threads, self._link_thread]:
            thread.start()
        atexit.register(self.close)

    # -- the caller's side ---------------------------------------------------------------

    def log_trace(self, trace: Trace | Mapping[str, Any]) -> str:
        """Validate and enqueue one trace; returns its ``trace_id`` without waiting for Kafka
        (synchronous mode: once Kafka acknowledged it).

        Raises ``TraceValidationError`` for an invalid trace; under the ``block`` policy
        ``QueueFullError`` when the queue stayed full for ``block_timeout`` seconds; in
        synchronous mode ``TraceNotDeliveredError`` when Kafka did not acknowledge it within
        ``sync_timeout`` (the trace stays queued, then spilled, as in asynchronous mode).
        """
        if self._closed:
            raise ProducerClosedError("log_trace() after close()")
        try:
            model = trace if isinstance(trace, Trace) else Trace.model_validate(trace)
        except ValidationError as exc:
            raise TraceValidationError(f"invalid trace: {exc}") from None
        value = model.model_dump_json().encode()
        item = Item(next(self._seq), model.trace_id.encode(), value, not self.async_logging)
        if len(self._inbox) < self._max_queue:
            self._inbox.append(item)  # atomic under the GIL: no lock, no wait
        elif self.policy == "block":
            self._wait_for_room(item)
        else:
            self._overflow.take([item], "queue full")
        if item.waiter is not None:
            self._wait_delivered(item)
        return model.trace_id

    def _wait_for_room(self, item: Item) -> None:
        deadline = time.monotonic() + self._block_timeout
        while len(self._inbox) >= self._max_queue:
            if time.monotonic() >= deadline:
                raise QueueFullError(
                    f"{self._max_queue} traces waited {self._block_timeout}s for Kafka at"
                    f" {self._config['bootstrap_servers']}; set async_queue_full_policy=spill"
                    " to keep them on disk instead"
                )
            time.sleep(0.001)
        self._inbox.append(item)

    def _wait_delivered(self, item: Item) -> None:
        assert item.waiter is not None
        trace_id = item.key.decode()
        if not item.waiter.wait(self.sync_timeout):
            raise TraceNotDeliveredError(
                f"Kafka did not acknowledge trace {trace_id} within {self.sync_timeout}s; it"
                " stays queued (and is spilled if retries run out)",
                trace_id,
            )
        if item.outcome == "spilled":
            self._spill.sync()  # the caller waits anyway: make it durable before answering
        if item.outcome != "sent":
            raise TraceNotDeliveredError(f"trace {trace_id} was {item.outcome}", trace_id)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every trace logged so far is acknowledged by Kafka or durably spilled."""
        self._wait_drained(timeout)
        self._spill.sync()
        return self._drained()

    def _wait_drained(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._drained():
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(0.005)

    def _drained(self) -> bool:
        # the dispatcher puts an item on the queue before it leaves the inbox: never in neither
        return not self._inbox and self._delivery.drained()

    def stats(self) -> ProducerStats:
        return ProducerStats(
            **self._counters.snapshot(),
            queued=len(self._inbox) + self._delivery.queue.qsize(),
            in_flight=self._delivery.in_flight,
            spill_files=len(self._spill.segments()) + self._spill.has_active,
        )

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush for up to ``timeout`` seconds, then stop within 0.5 s more; whatever Kafka has
        not acknowledged by then is spilled (or dropped and counted under ``drop``).
        Registered with ``atexit``."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self._wait_drained(timeout)  # no fsync here: the spill store's close does it, bounded
        deadline = time.monotonic() + CLOSE_SLACK
        self._delivery.closing = True
        self._stop.set()
        for thread in self._threads:  # they poll the stop event every 0.2 s at most
            thread.join(max(deadline - time.monotonic() - 0.2, 0.01))
        leftovers = list(self._inbox)
        self._inbox.clear()
        with contextlib.suppress(queue.Empty):
            while True:
                leftovers.append(self._delivery.queue.get_nowait())
                self._delivery.queue.task_done()
        producer = self._link.producer
        if producer is not None:  # unacknowledged records come back through the errbacks
            close_producer(producer, deadline - time.monotonic() - 0.15)
        self._delivery.wait_resolved(deadline)  # errbacks of aborted batches may still run
        self._link_thread.join(max(deadline - time.monotonic(), 0))
        leftovers += self._delivery.take_unresolved()
        self._overflow.take(leftovers, "producer closed before Kafka acknowledged them")
        self._overflow.log_progress()
        self._close_spill(deadline + 0.05)
        self._parts.unwatch_logs()
        stats = self.stats()
        if stats.spilled or stats.dropped or stats.failed:
            log.warning("TraceProducer closed: %s", stats)

    def _close_spill(self, deadline: float) -> None:
        """Write what is left to the OS here, and fsync it in a non-daemon thread waited for
        until ``deadline`` at most: an fsync can take seconds on a busy disk."""

        def finish() -> None:
            try:
                self._spill.close()
            except OSError as exc:
                log.error("cannot write the spill file in %s: %s", self._spill.directory, exc)

        with contextlib.suppress(OSError):  # the finisher retries and reports it
            self._spill.write_pending(timeout=deadline - time.monotonic())
        finisher = self._parts.thread(finish, "close-spill")
        finisher.daemon = False
        finisher.start()
        finisher.join(max(deadline - time.monotonic(), 0.01))

    def __enter__(self) -> TraceProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- background threads --------------------------------------------------------------

    def _dispatch(self) -> None:
        """Inbox -> delivery queue, one permit per trace; polls, since the caller never signals."""
        idle = 0.001
        permits, ready = self._delivery.permits, self._link.ready
        while not self._stop.is_set():
            if not ready.wait(0.2) or not permits.acquire(timeout=0.2):
                continue
            while not self._inbox and not self._stop.is_set():
                time.sleep(idle)
                idle = min(idle * 2, 0.02)  # 1 ms while busy, 20 ms once idle
            if not self._inbox:
                permits.release()
                continue
            idle = 0.001
            self._delivery.queue.put(self._inbox[0])  # on the queue before it leaves the inbox
            self._inbox.popleft()

    def _maintain(self) -> None:
        next_sync = 0.0
        while not self._stop.wait(0.05):
            now = time.monotonic()
            self._delivery.send_due_retries()
            self._overflow.log_progress()
            self._health.report()
            if now >= next_sync:
                try:
                    self._spill.sync()
                    next_sync = now + 0.2
                except OSError as exc:  # disk full, permissions: keep the lines, retry later
                    log.error("cannot write the spill file in %s: %s", self._spill.directory, exc)
                    next_sync = now + 5.0
