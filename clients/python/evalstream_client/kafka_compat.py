"""The one place the SDK touches kafka-python beyond its public API (kafka-python>=3.0,<4).

``KafkaProducer.close(timeout)`` flushes first and raises ``KafkaTimeoutError`` when the flush
times out, *before* it would force the sender closed: the producer then lives on, a network
thread reconnecting and logging for ever, and its buffered records may still be delivered
after the SDK spilled them (a duplicate on replay). ``close_producer`` finishes the job: it
force-closes the sender, which fails every incomplete batch at once, so their errbacks hand
the records back to the SDK (to spill) and nothing is delivered behind its back.
"""

from __future__ import annotations

import contextlib
from typing import Any


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
