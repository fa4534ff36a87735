"""evalstream's app-side SDK: send traces to evalstream and read its scores back.

Shipped as its own light distribution, ``evalstream-client`` (kafka-python and pydantic; the
OpenTelemetry exporter's packages as the ``otel`` extra), and re-exported by the full package
as ``pipeline.client``. Public API::

    TraceProducer(...).log_trace(trace) / flush() / close(timeout) / stats()
    traced                 decorator / context manager: one function call -> one trace
    KafkaSpanExporter      OpenTelemetry SDK SpanExporter writing to the spans topic
    ScoredTraceConsumer    iterate schemas.ScoredTrace from the scored topic, commit when done
    ClientSettings         the SDK's EVALSTREAM_* settings (docs/sdk.md)
    ClientError, ClientSettingsError, QueueFullError, ProducerClosedError,
    TraceNotDeliveredError

Every part reads its defaults from ``ClientSettings.from_env()``, so ``TraceProducer()`` works
with no arguments. Importing this package loads neither kafka-python's consumer nor the
OpenTelemetry SDK: the consumer and the exporter are resolved on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from evalstream_client.exceptions import (
    ClientError,
    ClientSettingsError,
    ProducerClosedError,
    QueueFullError,
    TraceNotDeliveredError,
)
from evalstream_client.producer import TraceProducer
from evalstream_client.settings import ClientSettings
from evalstream_client.stats import ProducerStats

# Imported eagerly: a lazily resolved ``traced`` would be shadowed by the submodule of the
# same name once that is imported.
from evalstream_client.traced import default_producer, traced

_EXPORTS = {
    "KafkaSpanExporter": "evalstream_client.span_exporter",
    "ScoredTraceConsumer": "evalstream_client.consumer",
    "ConsumerStats": "evalstream_client.consumer",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
