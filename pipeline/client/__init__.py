"""The app-side SDK: send traces to evalstream and read its scores back, with kafka-python.

Public API::

    TraceProducer(...).log_trace(trace) / flush() / close() / stats()
    traced                 decorator / context manager: one function call -> one trace
    KafkaSpanExporter      OpenTelemetry SDK SpanExporter writing to the spans topic
    ScoredTraceConsumer    iterate schemas.ScoredTrace from the scored topic, commit when done
    ClientError, QueueFullError, ProducerClosedError

Every part reads its defaults from ``pipeline.settings.load_settings()``, so ``TraceProducer()``
works with no arguments. Importing this package loads neither faust, aiokafka nor pyarrow
(the consumer and the exporter are resolved on first use), and the OpenTelemetry SDK only
when the exporter is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from pipeline.client.exceptions import ClientError, ProducerClosedError, QueueFullError
from pipeline.client.producer import ProducerStats, TraceProducer

# Imported eagerly: a lazily resolved ``traced`` would be shadowed by the submodule of the
# same name once that is imported.
from pipeline.client.traced import default_producer, traced

_EXPORTS = {
    "KafkaSpanExporter": "pipeline.client.span_exporter",
    "ScoredTraceConsumer": "pipeline.client.consumer",
    "ConsumerStats": "pipeline.client.consumer",
}

__all__ = [
    "ClientError",
    "ConsumerStats",
    "KafkaSpanExporter",
    "ProducerClosedError",
    "ProducerStats",
    "QueueFullError",
    "ScoredTraceConsumer",
    "TraceProducer",
    "default_producer",
    "traced",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline.client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
