"""kafka-python configuration of the SDK clients, derived from ``pipeline.settings``.

kafka-python (pure Python, no event loop) is the client of the app side: it works from any
thread of any application, sync or async, and pulls in neither faust nor aiokafka.
"""

from __future__ import annotations

from typing import Any

from pipeline.kafka_security import kafka_python_kwargs
from pipeline.settings import Settings


def producer_config(settings: Settings, client_id: str, **overrides: Any) -> dict[str, Any]:
    """An idempotent, acks=all producer that never waits long inside ``send``.

    ``max_block_ms`` bounds how long ``send`` may wait for topic metadata (kafka-python 3 has
    no ``buffer_memory``: its accumulator is bounded by TraceProducer's in-flight limit
    instead); only SDK background threads call ``send``, never the application's. A short
    reconnect backoff makes the producer notice a restarted broker within a second, not 30 s.
    """
    return {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 128 * 1024,
        "max_block_ms": 2_000,
        "bootstrap_timeout_ms": 5_000,
        "delivery_timeout_ms": 120_000,
        "reconnect_backoff_max_ms": 1_000,
        **kafka_python_kwargs(settings),
        **overrides,
    }


def consumer_config(settings: Settings, group_id: str | None, **overrides: Any) -> dict[str, Any]:
    """A consumer that commits only when told to (the caller decides what is processed)."""
    return {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": "evalstream-sdk-consumer",
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "bootstrap_timeout_ms": 10_000,
        **kafka_python_kwargs(settings),
        **overrides,
    }
