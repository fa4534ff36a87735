"""Where every logged trace is: the counters behind ``TraceProducer.stats()``.

Two kinds of counter, by who writes them: ``sent`` / ``retried`` / ``replayed`` / ``failed``
are bumped by SDK threads only, under a lock; ``spilled`` / ``dropped`` are also bumped by the
application's thread (a full queue), so they are lock-free ``ThreadCounter`` sums: a lock
shared with the SDK's threads could stall ``log_trace`` (see ``_counters``).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass

from evalstream_client._counters import ThreadCounter

LOCKED = ("sent", "retried", "replayed", "failed")
LOCK_FREE = ("spilled", "dropped")


@dataclass(frozen=True)
class ProducerStats:
    """Where every logged trace is: ``sent + spilled + dropped + failed + queued + in_flight``.

    ``replayed`` counts spilled traces (of this or an earlier run) later acknowledged by Kafka;
    ``retried`` counts every re-send of a trace (one trace can be retried often): the SDK's
    own, after a retriable error came back from kafka-python, and kafka-python's inside its
    delivery timeout (each record of a batch it re-sent; ``kafka_compat.count_retries``).
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


class DeliveryCounters:
    """The counts of ``ProducerStats`` that are not a queue length."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._lock_free = {name: ThreadCounter() for name in LOCK_FREE}

    def add(self, name: str, n: int = 1) -> None:
        if name in self._lock_free:
            self._lock_free[name].add(n)  # any thread, the application's included
            return
        with self._lock:
            self._counts[name] += n

    def get(self, name: str) -> int:
        if name in self._lock_free:
            return self._lock_free[name].value
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            counts = {name: self._counts[name] for name in LOCKED}
        counts.update({name: counter.value for name, counter in self._lock_free.items()})
        return counts
