"""TraceProducer: log traces from an application without ever blocking it on Kafka.

Modelled on MLflow's async trace logging (worker threads, a bounded queue, retries for up to
500 s) minus its silent loss: when the queue is full the configured policy applies (``block``
with a limit, ``spill`` to disk and replay later, or ``drop`` and count), and every trace ends
up acknowledged by Kafka, in a spill file, or counted in ``stats()``.

Threads: the caller only validates, serializes and appends to an in-memory inbox (a
``collections.deque``); it takes no lock that a background thread could hold, so it never
waits for one (a background thread paused by the interpreter while holding a shared lock
stalled ``log_trace`` for up to 22 ms before: benchmarks/sdk_latency.py). A dispatcher thread
moves traces from the inbox to ``async_max_workers`` sender threads that hand them to
kafka-python, at most ``max_in_flight`` unacknowledged so memory stays bounded while Kafka is
down. A maintenance thread writes and fsyncs the spill file, logs overflows and re-sends
failed traces with exponential backoff; a link thread connects to Kafka and replays spill
segments. The threads that call kafka-python's ``send`` (CPU work under the GIL) yield the GIL
after every send or every few sends: a thread that keeps the GIL makes a waiting thread wait
for the interpreter's whole 5 ms switch interval.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import heapq
import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from pipeline.client._counters import ThreadCounter
from pipeline.client._kafka import producer_config
from pipeline.client._sending import Item, ReplaySender
from pipeline.client.exceptions import ProducerClosedError, QueueFullError
from pipeline.client.spill import SpillStore
from pipeline.settings import Settings, load_settings
from schemas import Trace, TraceValidationError

log = logging.getLogger(__name__)
Policy = Literal["block", "spill", "drop"]


@dataclass(frozen=True)
class ProducerStats:
    """Where every logged trace is: ``sent + spilled + dropped + failed + queued + in_flight``.

    ``replayed`` counts spilled traces (of this or an earlier run) later acknowledged by Kafka.
    """

    sent: int
    retried: int
    spilled: int
    replayed: int
    dropped: int
    failed: int
    queued: int
    in_flight: int
    spill_files: int


class TraceProducer:
    """Sends ``schemas.Trace`` messages to the traces topic from background threads."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        topic: str | None = None,
        max_workers: int | None = None,
        max_queue_size: int | None = None,
        retry_timeout: float | None = None,
        queue_full_policy: Policy | None = None,
        spill_dir: Path | str | None = None,
        block_timeout: float = 5.0,
        max_in_flight: int | None = None,
        replay_interval: float = 1.0,
        drop_log_every: int = 1000,
        kafka_config: Mapping[str, Any] | None = None,
    ) -> None:
        s = settings or load_settings()
        self.topic = topic or s.input_topic
        self.policy: Policy = queue_full_policy or s.async_queue_full_policy
        self.retry_timeout = retry_timeout if retry_timeout is not None else s.async_retry_timeout
        size = max_queue_size or s.async_max_queue_size
        self._max_queue = size
        self._inbox: collections.deque[Item] = collections.deque()  # appended by the caller
        self._queue: queue.Queue[Item] = queue.Queue()  # dispatched, bounded by the permits
        self._permits = threading.BoundedSemaphore(max_in_flight or size)
        self._block_timeout = block_timeout
        self._drop_log_every = drop_log_every
        self._replay_interval = replay_interval
        self._spill = SpillStore(Path(spill_dir or s.spill_dir))
        self._config = producer_config(s, "evalstream-sdk", **dict(kafka_config or {}))
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._overflowed = {"spilled": ThreadCounter(), "dropped": ThreadCounter()}
        self._overflow_reason = ""
        self._overflow_logged = 0
        self._pending: dict[int, Item] = {}
        self._retries: list[tuple[float, int, Item]] = []
        self._seq = itertools.count()
        self._producer: Any = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._closing = self._closed = False
        self._link = ReplaySender(self, self._spill)
        self._threads = [
            threading.Thread(target=self._send_loop, name=f"evalstream-sender-{i}", daemon=True)
            for i in range(max_workers or s.async_max_workers)
        ]
        self._threads.append(threading.Thread(target=self._maintain, daemon=True))
        self._threads.append(threading.Thread(target=self._dispatch, daemon=True))
        self._link_thread = threading.Thread(target=self._link.run, daemon=True)
        for thread in [*self._threads, self._link_thread]:
            thread.start()
        atexit.register(self.close)

    # -- the caller's side ---------------------------------------------------------------

    def log_trace(self, trace: Trace | Mapping[str, Any]) -> str:
        """Validate and enqueue one trace; returns its ``trace_id`` without waiting for Kafka.

        Raises ``TraceValidationError`` for an invalid trace and, under the ``block`` policy,
        ``QueueFullError`` when the queue stayed full for ``block_timeout`` seconds.
        """
        if self._closed:
            raise ProducerClosedError("log_trace() after close()")
        try:
            model = trace if isinstance(trace, Trace) else Trace.model_validate(trace)
        except ValidationError as exc:
            raise TraceValidationError(f"invalid trace: {exc}") from None
        item = Item(next(self._seq), model.trace_id.encode(), model.model_dump_json().encode())
        if len(self._inbox) < self._max_queue:
            self._inbox.append(item)  # atomic under the GIL: no lock, no wait
        elif self.policy == "block":
            self._wait_for_room(item)
        else:
            self._overflow([item], "queue full")
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

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every trace logged so far is acknowledged by Kafka or durably spilled."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._drained():
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        self._spill.sync()
        return self._drained()

    def _drained(self) -> bool:
        # the dispatcher puts an item on the queue before it leaves the inbox: never in neither
        return not self._inbox and not self._queue.unfinished_tasks

    def stats(self) -> ProducerStats:
        with self._lock:
            counts = dict(self._counts)
            in_flight = len(self._pending)
        for kind, counter in self._overflowed.items():
            counts[kind] = counter.value
        return ProducerStats(
            **{k: counts.get(k, 0) for k in ("sent", "retried", "spilled", "replayed")},
            **{k: counts.get(k, 0) for k in ("dropped", "failed")},
            queued=len(self._inbox) + self._queue.qsize(),
            in_flight=in_flight,
            spill_files=len(self._spill.segments()) + self._spill.has_active,
        )

    def close(self, timeout: float | None = 10.0) -> None:
        """Flush, then stop; whatever Kafka has not acknowledged by then is spilled (or dropped
        and counted under the ``drop`` policy). Registered with ``atexit``."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        self.flush(timeout)
        self._closing = True
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        leftovers = list(self._inbox)
        self._inbox.clear()
        with contextlib.suppress(queue.Empty):
            while True:
                leftovers.append(self._queue.get_nowait())
                self._queue.task_done()
        if self._producer is not None:
            with contextlib.suppress(Exception):  # a timed-out flush inside close is expected
                self._producer.close(timeout=1)
        deadline = time.monotonic() + 2  # errbacks of aborted batches may still be running
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)
        self._link_thread.join(10)
        with self._lock:
            leftovers += [item for _, _, item in self._retries] + list(self._pending.values())
            self._retries.clear()
            self._pending.clear()
        self._overflow(leftovers, "producer closed before Kafka acknowledged them")
        self._log_overflow()
        self._spill.close()
        stats = self.stats()
        if stats.spilled or stats.dropped or stats.failed:
            log.warning("TraceProducer closed: %s", stats)

    def __enter__(self) -> TraceProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- background threads --------------------------------------------------------------

    def _dispatch(self) -> None:
        """Inbox -> sender queue, one permit per trace; polls, since the caller never signals."""
        idle = 0.001
        while not self._stop.is_set():
            if not self._ready.wait(0.2) or not self._permits.acquire(timeout=0.2):
                continue
            while not self._inbox and not self._stop.is_set():
                time.sleep(idle)
                idle = min(idle * 2, 0.02)  # 1 ms while busy, 20 ms once idle
            if not self._inbox:
                self._permits.release()
                continue
            idle = 0.001
            self._queue.put(self._inbox[0])  # on the queue before it leaves the inbox
            self._inbox.popleft()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            item.first_try = item.first_try or time.monotonic()
            with self._lock:
                self._pending[item.seq] = item
            self._send(item)
            time.sleep(0)  # hand the GIL over: the application's thread is waiting for it

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
        self._permits.release()
        self._queue.task_done()
        return True

    def _on_ack(self, item: Item, _metadata: Any) -> None:
        self._link.healthy = True
        if self._resolve(item):
            self.count("sent")

    def _on_error(self, item: Item, exc: BaseException) -> None:
        retriable = bool(getattr(exc, "retriable", False))
        self._link.healthy = self._link.healthy and not retriable
        elapsed = time.monotonic() - item.first_try
        if retriable and not self._closing and elapsed < self.retry_timeout:
            item.attempts += 1
            due = time.monotonic() + min(0.5 * 2 ** (item.attempts - 1), 30.0)
            with self._lock:
                heapq.heappush(self._retries, (due, item.seq, item))
                self._counts["retried"] += 1
            return
        if not self._resolve(item):
            return
        if retriable or self._closing:
            self._overflow([item], f"unsent after {elapsed:.0f}s of retries ({exc})")
        else:
            self.count("failed")
            log.error("Kafka rejected trace %s: %r (not retried)", item.key.decode(), exc)

    def _maintain(self) -> None:
        next_sync = 0.0
        while not self._stop.wait(0.05):
            now = time.monotonic()
            with self._lock:
                due = []
                while self._retries and self._retries[0][0] <= now:
                    due.append(heapq.heappop(self._retries)[2])
            for item in due:
                self._send(item)
            self._log_overflow()
            if now >= next_sync:
                try:
                    self._spill.sync()
                    next_sync = now + 0.2
                except OSError as exc:  # disk full, permissions: keep the lines, retry later
                    log.error("cannot write the spill file in %s: %s", self._spill.directory, exc)
                    next_sync = now + 5.0

    # -- shared with the link thread -----------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _overflow(self, items: list[Item], reason: str) -> None:
        """Spill ``items`` (``drop``: count them); lock-free, as the caller's thread runs it.

        The maintenance thread logs it (``_log_overflow``): logging takes a handler lock.
        """
        if not items:
            return
        kind = self._overflow_kind
        if kind == "spilled":
            for item in items:
                self._spill.append(item.value)
        self._overflowed[kind].add(len(items))
        self._overflow_reason = reason

    @property
    def _overflow_kind(self) -> str:
        """What happens to a trace that does not fit: ``dropped`` under ``drop``, else spilled."""
        return "dropped" if self.policy == "drop" else "spilled"

    def _log_overflow(self) -> None:
        """Log the first overflow and then every ``drop_log_every``-th."""
        kind = self._overflow_kind
        total = self._overflowed[kind].value
        logged, every = self._overflow_logged, self._drop_log_every
        if total and (logged == 0 or total // every != logged // every):
            self._overflow_logged = total
            where = f" to {self._spill.directory}" if kind == "spilled" else ""
            log.warning("%s %d traces so far%s: %s", kind, total, where, self._overflow_reason)
