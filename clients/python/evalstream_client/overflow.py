"""What happens to a trace that does not fit or cannot be sent: spilled, or dropped and counted.

``take`` runs in the application's thread when the queue is full, so it does no I/O, takes
no lock and does not log (logging takes a handler lock): it appends to the spill store's
in-memory buffer (written by the maintenance thread) or counts a drop. ``log_progress``, in
the maintenance thread, logs the first overflow and then every ``log_every``-th, at most once
per ``interval`` seconds.
"""

from __future__ import annotations

import logging
import time

from evalstream_client.delivery import Item
from evalstream_client.spill import SpillStore
from evalstream_client.stats import DeliveryCounters

log = logging.getLogger("evalstream_client")


class Overflow:
    def __init__(
        self,
        drop: bool,
        spill: SpillStore,
        counters: DeliveryCounters,
        *,
        log_every: int = 1000,
        interval: float = 30.0,
    ) -> None:
        self.kind = "dropped" if drop else "spilled"
        self._spill = spill
        self._counters = counters
        self._log_every = log_every
        self._interval = interval
        self._reason = ""
        self._logged = 0
        self._logged_at = float("-inf")

    def take(self, items: list[Item], reason: str) -> None:
        if not items:
            return
        if self.kind == "spilled":
            for item in items:
                self._spill.append(item.value)
        self._counters.add(self.kind, len(items))
        self._reason = reason
        for item in items:
            item.settle(self.kind)

    def log_progress(self) -> None:
        total = self._counters.get(self.kind)
        logged, every = self._logged, self._log_every
        if not total or (logged and total // every == logged // every):
            return
        now = time.monotonic()
        if logged and now - self._logged_at < self._interval:
            return
        self._logged, self._logged_at = total, now
        where = f" to {self._spill.directory}" if self.kind == "spilled" else ""
        log.warning("%s %d traces so far%s: %s", self.kind, total, where, self._reason)
