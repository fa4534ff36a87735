"""The OTLP result export off the scoring path: a bounded queue and one sender thread.

``OtlpResultExporter.export`` blocks while it retries (up to its retry budget, 60 s): run
inline, a 503-ing backend stalled the scored topic for as long. Results are already on their
way to Kafka and Parquet when they are exported, so this sink is best effort by design: the
worker only ``submit``s (never blocks, never raises), the thread exports, and what cannot be
exported (queue full, a 4xx, the retry budget spent) is counted in
``evalstream_otel_results_lost_total{reason}`` and logged once per interval, not per batch.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.sinks.otel import OtlpExportError

log = logging.getLogger(__name__)


class BackgroundOtlpExport:
    """``submit`` batches of scored records; a daemon thread exports them in order."""

    def __init__(
        self,
        exporter: Any,
        max_batches: int = 100,
        log_interval: float = 30.0,
        on_lost: Callable[[str, int], None] | None = None,
    ) -> None:
        self.exporter = exporter
        self.on_lost = on_lost  # (reason, results): the worker's observer counts them
        self.log_interval = log_interval
        self._queue: queue.Queue[Sequence[Any] | None] = queue.Queue(maxsize=max_batches)
        self._lost: Counter[str] = Counter()  # since the last log line
        self._last_log = 0.0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="otlp-result-export", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[Any]) -> None:
        """Queue a batch for export; a full queue loses the batch (counted), never waits."""
        results = _count(records)
        if not results:
            return
        try:
            self._queue.put_nowait(records)
        except queue.Full:
            self._lose("queue_full", results, "the export queue is full (backend slow or down)")

    def close(self, timeout: float = 5.0) -> None:
        """Let the thread finish what is queued for up to ``timeout`` seconds."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while (records := self._queue.get()) is not None:
            try:
                self.exporter.export(records)
            except OtlpExportError as exc:
                reason = "rejected" if "rejected" in str(exc) else "failed"
                self._lose(reason, _count(records), str(exc))
            except Exception as exc:  # a bug or a backend answer we do not understand
                self._lose("failed", _count(records), repr(exc))

    def _lose(self, reason: str, results: int, detail: str) -> None:
        if self.on_lost is not None:
            self.on_lost(reason, results)
        with self._lock:
            self._lost[reason] += results
            now = time.monotonic()
            if now - self._last_log < self.log_interval:
                return
            summary = ", ".join(f"{n} {why}" for why, n in sorted(self._lost.items()))
            self._lost.clear()
            self._last_log = now
        log.warning("OTLP result export lost %s results (last: %s)", summary, detail[:300])


def _count(records: Sequence[Any]) -> int:
    return sum(len(record.results) for record in records)
