"""aiokafka retries a failed metadata update without waiting; this adds its retry backoff.

aiokafka's producer sender (``producer/sender.py``: "try to update cluster metadata and wait
backoff time") and its consumer fetcher wait on ``force_metadata_update()`` whenever a
partition has no known leader. While the broker is down the update fails at once (connection
refused), so the future resolves at once and the loop asks again: the worker's clients made
about 1,400 metadata attempts a second during a 60 s outage (two log lines each, 85,766 lines
in 30 s), and the receiver up to 200 a second while exporters kept sending. The Java client
waits ``retry.backoff.ms`` between such attempts; here a failed update waits the client's own
``retry_backoff_ms`` (aiokafka default 100 ms) before it reports failure, so every caller
waiting on it waits too (a successful update returns at once, as before).

``AIOKafkaClient._metadata_update`` is aiokafka's internal; ``tests/pipeline/kafka/
test_metadata_backoff.py`` checks it still exists and that the backoff applies.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

FLAG = "_evalstream_metadata_backoff"


def install_metadata_backoff() -> bool:
    """Patch ``AIOKafkaClient`` once per process; False when aiokafka has no such method."""
    from aiokafka.client import AIOKafkaClient

    original = getattr(AIOKafkaClient, "_metadata_update", None)
    if original is None:
        return False
    if getattr(original, FLAG, False):
        return True

    @functools.wraps(original)
    async def metadata_update(self: Any, cluster_metadata: Any, topics: Any) -> bool:
        updated = await original(self, cluster_metadata, topics)
        if not updated:
            await asyncio.sleep(self._retry_backoff)
        return updated

    setattr(metadata_update, FLAG, True)
    AIOKafkaClient._metadata_update = metadata_update  # type: ignore[method-assign]
    return True
