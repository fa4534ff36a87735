"""The one place the SDK touches kafka-python beyond its public API (kafka-python>=3.0,<4).

``count_retries`` lets ``stats().retried`` see kafka-python's own retries. The idempotent
producer (what makes delivery exactly once through an outage) must keep kafka-python's
retries on (``retries=0`` conflicts with ``enable_idempotence``), and the SDK cannot re-send
in their place without losing the broker's de-duplication: a re-send of its own gets a new
sequence number, so a batch written whose answer was lost would land twice. kafka-python
re-enqueues a retried batch and records its record count on the ``record-retries`` sensor,
which only keeps a rate; a cumulative stat added to that sensor forwards each count.

``KafkaProducer.close(timeout)`` flushes first and raises ``KafkaTimeoutError`` when the flush
times out, *before* it would force the sender closed: the producer then lives on, a network
thread reconnecting and logging for ever, and its buffered records may still be delivered
after the SDK spilled them (a duplicate on replay). ``close_producer`` finishes the job: it
force-closes the sender, which fails every incomplete batch at once, so their errbacks hand
the records back to the SDK (to spill) and nothing is delivered behind its back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
RETRY_SENSOR = "record-retries"  # kafka/producer/sender.py, SenderMetrics


def close_producer(producer: Any, timeout: float) -> bool:
    """Close within about ``timeout`` seconds; True when every record was flushed first."""
    try:
        producer.close(timeout=max(timeout, 0.0))
        return True
    except Exception:  # KafkaTimeoutError from the flush: records still buffered
        pass
    sender = getattr(producer, "_sender", None)
    if sender is not None and hasattr(sender, "force_close"):
        sender.force_close()  # aborts incomplete batches: their errbacks run now
        sender.join(max(timeout, 0.1))
    with contextlib.suppress(Exception):
        producer.close(timeout=0)  # nothing left to flush: releases metrics and sockets
    return False


def count_retries(producer: Any, on_retry: Callable[[int], None]) -> bool:
    """Call ``on_retry(records)`` each time kafka-python re-sends a batch of ``records``.

    False (logged once per producer at WARNING) when this kafka-python has no such sensor, or
    its metrics are disabled: ``stats().retried`` then counts the SDK's own retries only.
    """
    from kafka.metrics.stats import Total

    class _Forward(Total):  # still a correct total for kafka-python's own metrics()
        def record(self, config: Any, value: float, now: float) -> None:
            super().record(config, value, now)
            on_retry(int(value))

    metrics = getattr(producer, "_metrics", None)
    sensor = metrics.get_sensor(RETRY_SENSOR) if metrics is not None else None
    if sensor is None:
        log.warning(
            "kafka-python %s has no %r sensor (or metrics are off): stats().retried counts"
            " the SDK's own retries only",
            _kafka_version(),
            RETRY_SENSOR,
        )
        return False
    name = metrics.metric_name(
        "record-retry-total", "producer-metrics", "Records re-sent by the producer (evalstream)"
    )
    sensor.add(name, _Forward())
    return True


def _kafka_version() -> str:
    import kafka

    return getattr(kafka, "__version__", "?")
