"""The app-side SDK, under the import path the docs have always used.

The code lives in ``evalstream_client`` (its own light distribution, ``evalstream-client``,
which the full package depends on), so an application can install the SDK without the worker
and both installed side by side share one copy: ``pipeline.client.TraceProducer is
evalstream_client.TraceProducer``. See docs/sdk.md.
"""

from __future__ import annotations

from typing import Any

import evalstream_client
from evalstream_client import (
    ClientError,
    ClientSettings,
    ClientSettingsError,
    ProducerClosedError,
    ProducerStats,
    QueueFullError,
    TraceNotDeliveredError,
    TraceProducer,
    default_producer,
    traced,
)

__all__ = [
    "ClientError",
    "ClientSettings",
    "ClientSettingsError",
    "ConsumerStats",
    "KafkaSpanExporter",
    "ProducerClosedError",
    "ProducerStats",
    "QueueFullError",
    "ScoredTraceConsumer",
    "TraceNotDeliveredError",
    "TraceProducer",
    "default_producer",
    "traced",
]


def __getattr__(name: str) -> Any:  # the lazily loaded parts (consumer, span exporter)
    if name in __all__:
        return getattr(evalstream_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
