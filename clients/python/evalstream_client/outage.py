"""Kafka's health as the SDK sees it, and the one place that tells the log about an outage.

During an outage every send is retried and every full queue spills; a line per event would be
hundreds of lines a minute. ``KafkaHealth`` logs one line when the trouble starts, then at most
one per ``interval`` with what happened meanwhile (retries, spilled, dropped, queued), and
one when Kafka answers again. It never logs from the application's thread: ``trouble`` and
``ok`` run in SDK or kafka-python threads, ``report`` in the maintenance thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("evalstream_client")

COUNTED = ("retried", "spilled", "dropped", "failed")


class KafkaHealth:
    """``healthy``: the last word from Kafka was an acknowledgement, not a retriable error."""

    def __init__(
        self,
        where: str,
        counts: Callable[[], Mapping[str, int]],
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.where = where  # "Kafka at host:port (topic t)"
        self.interval = interval
        self.healthy = False  # until the first connection or acknowledgement
        self._counts = counts
        self._clock = clock
        self._lock = threading.Lock()
        self._outage_start: float | None = None
        self._last_line = float("-inf")  # when the last line was logged
        self._announced = False  # the current outage has had a line
        self._at_last_line: dict[str, int] = {}
        self._at_start: dict[str, int] = {}
        self._last_error = ""
        self._held_back = 0  # kafka-python warnings folded into our lines (kafka_logs)
        self.lines = 0  # outage lines logged

    @property
    def in_outage(self) -> bool:
        return self._outage_start is not None

    def ok(self) -> None:
        """Kafka answered: end the outage, with one line if the outage was announced."""
        self.healthy = True
        if self._outage_start is None:
            return
        with self._lock:
            if self._outage_start is None:
                return
            lasted, self._outage_start = self._clock() - self._outage_start, None
            if not self._announced:  # a blip between two lines: the next line counts it
                return
            self._announced = False
            self._last_line = self._clock()
            during = _delta(self._counts(), self._at_start) | self._take_held_back()
        self._log(
            logging.WARNING,
            "%s answers again after %.0f s; during the outage: %s",
            self.where,
            lasted,
            _describe(during),
        )

    def trouble(self, error: object, *, unhealthy: bool = True) -> None:
        """A retriable failure (connect, send, replay): the first one of an outage is logged.

        ``unhealthy=False`` for a mere sign of trouble (a kafka-python warning): it is logged
        and counted like the rest, but only the SDK's own failures make ``healthy`` False,
        which is what holds replays back and makes the span exporter spill without trying.
        """
        if unhealthy:
            self.healthy = False
        with self._lock:
            self._last_error = _short(error)
            if self._outage_start is not None:
                return
            now = self._clock()
            self._outage_start = now
            self._at_start = dict(self._counts())
            if now - self._last_line < self.interval:  # flapping: report() tells, in time
                return
            self._last_line, self._at_last_line, self._announced = now, self._at_start, True
            self._take_held_back()  # counted in the outage line's text, not double
        self._log(
            logging.WARNING,
            "%s: %s; traces wait in memory and on disk until Kafka answers",
            self.where,
            self._last_error,
        )

    def held_back(self, record: logging.LogRecord) -> None:
        """A kafka-python warning from one of our threads: counted, and an outage sign."""
        with self._lock:
            self._held_back += 1
        self.trouble(f"{record.name}: {record.getMessage()}", unhealthy=False)

    def _take_held_back(self) -> dict[str, int]:
        held, self._held_back = self._held_back, 0
        return {"kafka-python warnings held back": held}

    def report(self) -> None:
        """At most one line per ``interval`` while the outage lasts: what happened meanwhile
        (called every few hundred milliseconds by a maintenance thread)."""
        if self._outage_start is None or self._clock() - self._last_line < self.interval:
            return
        with self._lock:
            if self._outage_start is None:
                return
            now = self._clock()
            counts = dict(self._counts())
            since, self._at_last_line = self._at_last_line, counts
            elapsed = now - self._last_line
            self._last_line, self._announced = now, True
            lasted, error = now - self._outage_start, self._last_error
            delta = _delta(counts, since) | self._take_held_back()
        self._log(
            logging.WARNING,
            "%s: trouble for %.0f s (last: %s); in the last %.0f s: %s",
            self.where,
            lasted,
            error,
            elapsed,
            _describe(delta),
        )

    def _log(self, level: int, message: str, *args: object) -> None:
        self.lines += 1
        log.log(level, message, *args)


def _delta(now: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {name: now.get(name, 0) - before.get(name, 0) for name in COUNTED}


def _describe(counts: Mapping[str, int]) -> str:
    parts = [f"{n} {name}" for name, n in counts.items() if n]
    return ", ".join(parts) or "nothing retried, spilled or dropped"


def _short(error: object) -> str:
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return str(text).splitlines()[0][:200] if text else "unknown error"
