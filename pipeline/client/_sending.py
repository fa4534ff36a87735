"""The link between TraceProducer and Kafka: connecting, and replaying spilled traces.

Connecting happens here, in a background thread, because kafka-python's producer contacts a
broker in its constructor: an application must start (and log) while Kafka is down.
Replay re-sends each spill chunk and waits for every acknowledgement; a line that fails is
appended to a new segment before the chunk's progress is recorded, so a replay neither loses
nor duplicates a trace (only a crash between the two steps can duplicate one chunk).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from pipeline.client.spill import SpillStore

if TYPE_CHECKING:
    from pipeline.client.producer import TraceProducer

log = logging.getLogger(__name__)


class Item:
    """One serialized trace on its way to Kafka."""

    __slots__ = ("attempts", "first_try", "key", "seq", "value")

    def __init__(self, seq: int, key: bytes, value: bytes) -> None:
        self.seq = seq
        self.key = key
        self.value = value
        self.first_try = 0.0
        self.attempts = 0


class ReplaySender:
    """Body of the producer's link thread."""

    def __init__(self, owner: TraceProducer, spill: SpillStore, probe_interval: float = 5.0):
        self.owner = owner
        self.spill = spill
        self.probe_interval = probe_interval
        self.healthy = False  # set by acks, cleared by retriable errors
        self._last_try = 0.0
        self._warned = False

    def run(self) -> None:
        owner = self.owner
        backoff = 0.5
        while not owner._stop.is_set():
            if owner._producer is None and not self._connect():
                owner._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if self._replay_due():
                self._last_try = time.monotonic()
                self.spill.rotate()
                self.spill.replay(self._send_chunk)
            owner._stop.wait(owner._replay_interval)

    def _connect(self) -> bool:
        from kafka import KafkaProducer  # imported here: importing the SDK stays cheap
        from kafka.errors import KafkaError

        owner = self.owner
        try:
            producer = KafkaProducer(**owner._config)
        except (KafkaError, OSError) as exc:  # no broker yet, DNS, timeouts: retried
            level = logging.DEBUG if self._warned else logging.WARNING
            log.log(
                level,
                "Kafka at %s not reachable yet (%s); traces are queued",
                owner._config["bootstrap_servers"],
                exc,
            )
            self._warned = True
            return False
        except Exception as exc:  # a configuration error: loud every time, still retried
            log.error("cannot create the Kafka producer: %r", exc)
            return False
        if owner._stop.is_set():
            producer.close(timeout=0)
            return False
        owner._producer = producer
        self.healthy = True
        owner._ready.set()
        return True

    def _replay_due(self) -> bool:
        owner = self.owner
        if len(owner._inbox) > owner._max_queue // 2:  # live traffic first
            return False
        if not (self.spill.has_active or self.spill.segments()):
            return False
        return self.healthy or time.monotonic() - self._last_try >= self.probe_interval

    def _send_chunk(self, lines: list[bytes]) -> bool:
        owner = self.owner
        sends: list[tuple[bytes, Any]] = []
        for n, line in enumerate(lines, 1):
            if n % 16 == 0:
                time.sleep(0)  # hand the GIL to the application's threads now and then
            try:
                key = str(orjson.loads(line)["trace_id"]).encode()
            except (orjson.JSONDecodeError, KeyError, TypeError):
                owner.count("failed")
                log.error("skipping an unreadable spill line (torn write?): %.200r", line)
                continue
            try:
                future = owner._producer.send(owner.topic, key=key, value=line.rstrip(b"\n"))
            except Exception:
                future = None
            sends.append((line, future))
        failed = []
        for line, future in sends:
            try:
                if future is None:
                    raise RuntimeError("send failed")
                future.get()  # resolves within delivery_timeout_ms, or at once on close
            except Exception:
                failed.append(line)
        owner.count("replayed", len(sends) - len(failed))
        for line in failed:
            self.spill.append(line)
        if failed:
            self.healthy = False
        return not failed and not owner._stop.is_set()
