"""kafka-python's own warnings from the SDK's threads, folded into the SDK's outage lines.

While a broker is down kafka-python logs about three lines a second per client (connection
refused, no node for a metadata refresh, ...). Those emitted by the SDK's own threads (named
``<client_id>-...``: kafka-python's network thread, our link and sender threads) are held back
here, counted, and reported by ``KafkaHealth`` once per interval together with the last one's
text. Records below WARNING and records of the application's own Kafka clients pass untouched.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol


class HealthSink(Protocol):
    def held_back(self, record: logging.LogRecord) -> None: ...


class KafkaLogGate(logging.Filter):
    """One per process, attached to every ``kafka*`` logger (filters do not propagate)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._owners: dict[str, list[HealthSink]] = {}  # thread-name prefix -> who counts

    def register(self, thread_prefix: str, health: HealthSink) -> None:
        with self._lock:
            self._owners.setdefault(thread_prefix, []).append(health)
        self.attach()

    def unregister(self, thread_prefix: str, health: HealthSink) -> None:
        with self._lock:
            owners = self._owners.get(thread_prefix, [])
            if health in owners:
                owners.remove(health)
            if not owners:
                self._owners.pop(thread_prefix, None)

    def attach(self) -> None:
        """Attach to every kafka-python logger created so far (they appear as modules load)."""
        for name in list(logging.root.manager.loggerDict):
            if name == "kafka" or name.startswith("kafka."):
                logger = logging.getLogger(name)
                if self not in logger.filters:
                    logger.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not self._owners:
            return True
        thread = record.threadName or ""
        owners = [
            health
            for prefix, healths in list(self._owners.items())
            if thread.startswith(prefix)
            for health in healths
        ]
        for health in owners:
            health.held_back(record)
        return not owners


GATE = KafkaLogGate()
