"""aiokafka's repeated warnings folded into one line per interval, with a count.

While a broker is down aiokafka logs two lines per metadata attempt ("Unable connect to node
with id 1: ... Connect call failed", "Unable to update metadata from [1]"), about a dozen a
second from the receiver and the worker alike: a 60 s outage buried the log in hundreds of
identical lines. ``RepeatedLines`` lets the first line of each kind (logger + format string,
so the same text with another node or port is the same kind) through at once and holds back
its repeats; once per interval one line says how many were held back, of which kinds, with
the last text of each:

    WARNING aiokafka: 158 repeated lines held back in the last 30 s: 79 x Unable connect to
    node with id 1: [Errno 111] Connect call failed ('127.0.0.1', 9092); 79 x Unable to ...

A kind quiet for a whole interval is forgotten (its next line is said at once again); records
below WARNING are untouched. The filter sits on every ``aiokafka*`` logger (a logger's
filters see only its own records), so it is installed once the client's modules are
imported; a daemon thread writes the interval's line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SUMMARY = "_evalstream_repeats"  # set on the summary records: they pass the filter


@dataclass
class _Kind:
    last_seen: float
    held: int = 0
    text: str = ""


class RepeatedLines(logging.Filter):
    """The first WARNING+ line of each kind at once; repeats counted, one line per interval."""

    def __init__(
        self,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        summary_logger: str = "aiokafka",
    ) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._logger = summary_logger
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str], _Kind] = {}
        self._window_start = clock()
        self._level = logging.WARNING

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or getattr(record, SUMMARY, False):
            return True
        key, now = (record.name, str(record.msg)), self._clock()
        with self._lock:
            kind = self._kinds.get(key)
            if kind is None:  # a new kind (or one quiet for a whole interval): said at once
                self._kinds[key] = _Kind(last_seen=now)
                return True
            kind.last_seen, kind.held, kind.text = now, kind.held + 1, record.getMessage()
            self._level = max(self._level, record.levelno)
        return False

    def report(self, force: bool = False) -> None:
        """Once per interval (or now, ``force``): one line with the repeats held back."""
        now = self._clock()
        with self._lock:
            if not force and now - self._window_start < self.interval:
                return
            held = sorted(((k.held, k.text) for k in self._kinds.values() if k.held), key=_most)
            total, seconds, level = sum(n for n, _ in held), now - self._window_start, self._level
            for key, kind in list(self._kinds.items()):
                kind.held = 0
                if now - kind.last_seen >= self.interval:
                    del self._kinds[key]  # quiet: its next line is said at once again
            self._window_start, self._level = now, logging.WARNING
        if not total:
            return
        kinds = "; ".join(f"{n} x {text[:160]}" for n, text in held[:3])
        more = f"; and {len(held) - 3} other kinds" if len(held) > 3 else ""
        summary = logging.makeLogRecord(
            {
                "name": self._logger,
                "levelno": level,
                "levelname": logging.getLevelName(level),
                "msg": f"{total} repeated lines held back in the last {seconds:.0f} s: {kinds}"
                f"{more}",
                SUMMARY: True,
            }
        )
        logging.getLogger(self._logger).handle(summary)


def _most(kind: tuple[int, str]) -> int:
    return -kind[0]


_installed: RepeatedLines | None = None


def fold_repeated_kafka_lines(interval: float, prefix: str = "aiokafka") -> RepeatedLines:
    """Attach one ``RepeatedLines`` to every ``prefix*`` logger that exists now, and start its
    reporter thread (once per process; a later call attaches to new loggers only)."""
    global _installed
    if _installed is None:
        _installed = RepeatedLines(interval, summary_logger=prefix)
        gate = _installed

        def report_forever() -> None:
            while True:
                time.sleep(max(min(gate.interval / 10, 1.0), 0.05))
                gate.report()

        threading.Thread(target=report_forever, name="kafka-log-repeats", daemon=True).start()
    for name in [prefix, *logging.root.manager.loggerDict]:
        if name == prefix or name.startswith(prefix + "."):
            logger = logging.getLogger(name)
            if _installed not in logger.filters:
                logger.addFilter(_installed)
    return _installed
