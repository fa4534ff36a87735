"""The link to Kafka: connecting in the background, and replaying spilled messages.

Connecting happens here, in a background thread, because kafka-python's producer contacts a
broker in its constructor: an application must start (and log) while Kafka is down.
Replay re-sends each spill chunk and waits for every acknowledgement; a line that fails is
appended to a new segment before the chunk's progress is recorded, so a replay neither loses
nor duplicates a message (only a crash between the two steps can duplicate one chunk).

The sender knows its collaborators only through what it is given: a stop event, a factory
that makes a connected producer, the spill store, the counters, Kafka's health, and a
``busy`` test (live traffic goes first). ``on_connected`` hands the producer to whoever sends
live traffic; ``decode_line`` turns a spill line into ``(key, value)``; ``on_tick`` runs once
per loop (the span exporter syncs its spill file there).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from evalstream_client.outage import KafkaHealth
from evalstream_client.spill import SpillStore
from evalstream_client.stats import DeliveryCounters

log = logging.getLogger(__name__)


def trace_line(line: bytes) -> tuple[bytes, bytes]:
    """A trace spill line: the JSON trace itself, keyed by its ``trace_id``."""
    return str(json.loads(line)["trace_id"]).encode(), line.rstrip(b"\n")


def _nothing(*_args: Any) -> None:
    return None


@dataclass(eq=False)
class ReplaySender:
    """Body of a link thread (``run``); ``ready`` is set once ``producer`` is connected."""

    stop: threading.Event
    producer_factory: Callable[[], Any]
    spill: SpillStore
    counters: DeliveryCounters
    health: KafkaHealth
    _: KW_ONLY
    topic: str
    on_connected: Callable[[Any], None] = _nothing
    busy: Callable[[], bool] = bool  # bool() is False: never busy
    decode_line: Callable[[bytes], tuple[bytes, bytes]] = trace_line
    on_tick: Callable[[], None] = _nothing
    replay_interval: float = 1.0
    probe_interval: float = 5.0
    producer: Any = field(default=None, init=False)
    ready: threading.Event = field(default_factory=threading.Event, init=False)
    tried: threading.Event = field(default_factory=threading.Event, init=False)  # 1st attempt over
    _last_try: float = field(default=0.0, init=False)

    def run(self) -> None:
        backoff = 0.5
        try:
            while not self.stop.is_set():
                self.on_tick()
                if self.producer is None and not self._connect():
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
                if self._replay_due():
                    self._last_try = time.monotonic()
                    self.spill.rotate()
                    self.spill.replay(self._send_chunk)
                self.stop.wait(self.replay_interval)
        finally:  # lines a replay re-spilled after the owner closed the store: keep them
            with contextlib.suppress(OSError):
                self.spill.sync()

    def _connect(self) -> bool:
        from kafka.errors import KafkaError  # imported here: importing the SDK stays cheap

        try:
            producer = self.producer_factory()
        except (KafkaError, OSError) as exc:  # no broker yet, DNS, timeouts: retried
            self.health.trouble(exc)
            self.tried.set()
            return False
        except Exception as exc:  # a configuration error: loud every time, still retried
            log.error("cannot create the Kafka producer: %r", exc)
            self.tried.set()
            return False
        if self.stop.is_set():
            producer.close(timeout=0)
            return False
        self.producer = producer
        self.on_connected(producer)
        self.health.ok()
        self.ready.set()
        self.tried.set()
        return True

    def _replay_due(self) -> bool:
        if self.busy():
            return False
        if not (self.spill.has_active or self.spill.segments()):
            return False
        return self.health.healthy or time.monotonic() - self._last_try >= self.probe_interval

    def _send_chunk(self, lines: list[bytes]) -> bool:
        sends: list[tuple[bytes, Any]] = []
        for n, line in enumerate(lines, 1):
            if n % 16 == 0:
                time.sleep(0)  # hand the GIL to the application's threads now and then
            try:
                key, value = self.decode_line(line)
            except (ValueError, KeyError, TypeError):
                self.counters.add("failed")
                log.error("skipping an unreadable spill line (torn write?): %.200r", line)
                continue
            try:
                future = self.producer.send(self.topic, key=key, value=value)
            except Exception:
                future = None
            sends.append((line, future))
        failed = []
        error: object = "send failed"
        for line, future in sends:
            try:
                if future is None:
                    raise RuntimeError("send failed")
                future.get()  # resolves within delivery_timeout_ms, or at once on close
            except Exception as exc:
                failed.append(line)
                error = exc
        self.counters.add("replayed", len(sends) - len(failed))
        for line in failed:
            self.spill.append(line)
        if failed:
            self.health.trouble(error)
        elif sends:
            self.health.ok()
        return not failed and not self.stop.is_set()
