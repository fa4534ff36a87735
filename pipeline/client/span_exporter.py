"""KafkaSpanExporter: an OpenTelemetry SDK ``SpanExporter`` that writes to the spans topic.

It writes what the OTel Collector's kafka exporter writes with ``encoding: otlp_proto`` (or
``otlp_json``) and ``partition_traces_by_id: true``: one ``ExportTraceServiceRequest`` per
trace id, holding only that trace's spans, keyed by the lower-case hex trace id. The span
assembler cannot tell the two apart, so an app instrumented with OpenTelemetry or OpenInference
can skip the receiver/Collector hop. Keying by trace id puts every span of a trace on one
partition, which is what lets one assembler instance see a whole trace.

Needs the optional ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-common``
(the SDK's own span -> protobuf encoder, so attributes, events, links and status map exactly
as the OTLP exporters map them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

try:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "KafkaSpanExporter needs the OpenTelemetry SDK: pip install 'evalstream[otel]'"
        " (opentelemetry-sdk and opentelemetry-exporter-otlp-proto-common)"
    ) from exc

from pipeline.client._kafka import producer_config
from pipeline.settings import Settings, load_settings

log = logging.getLogger(__name__)


class KafkaSpanExporter(SpanExporter):
    """Use with a ``BatchSpanProcessor``; each ``export`` waits for Kafka's acknowledgements.

    The OTel SDK drops a batch whose export fails (it does not retry), so failures are logged
    with the number of spans lost; kafka-python retries transient errors within ``timeout``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        topic: str | None = None,
        encoding: str | None = None,
        timeout: float = 10.0,
        kafka_config: Mapping[str, Any] | None = None,
    ) -> None:
        s = settings or load_settings()
        self.topic = topic or s.spans_topic
        self.encoding = encoding or s.spans_encoding
        if self.encoding not in ("otlp_proto", "otlp_json"):
            raise ValueError(f"unknown spans encoding {self.encoding!r}")
        self.timeout = timeout
        self._config = producer_config(s, "evalstream-span-exporter", **dict(kafka_config or {}))
        self._producer: Any = None
        self._lock = threading.Lock()
        self._shutdown = False

    def _kafka(self) -> Any:
        """Connected on first export, so creating the exporter never waits for a broker."""
        with self._lock:
            if self._producer is None:
                from kafka import KafkaProducer

                self._producer = KafkaProducer(**self._config)
            return self._producer

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """One message value: the spans as an ``ExportTraceServiceRequest``."""
        request = encode_spans(spans)
        if self.encoding == "otlp_proto":
            return request.SerializeToString()
        return _otlp_json(request)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        by_trace: dict[int, list[ReadableSpan]] = {}
        for span in spans:
            by_trace.setdefault(span.context.trace_id, []).append(span)
        deadline = time.monotonic() + self.timeout
        try:
            producer = self._kafka()
            futures = [
                producer.send(self.topic, key=f"{trace_id:032x}".encode(), value=self.encode(group))
                for trace_id, group in by_trace.items()
            ]
            for future in futures:
                future.get(timeout=max(deadline - time.monotonic(), 0.001))
        except Exception as exc:  # the SDK expects a result, not an exception
            log.error(
                "lost %d spans: export to Kafka topic %r failed: %r", len(spans), self.topic, exc
            )
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        if self._producer is None:
            return True
        try:
            self._producer.flush(timeout=timeout_millis / 1000)
        except Exception:
            return False
        return True

    def shutdown(self) -> None:
        self._shutdown = True
        if self._producer is not None:
            self._producer.close(timeout=self.timeout)


def _otlp_json(request: Any) -> bytes:
    """OTLP/JSON as the Collector writes it: integer enums and hex (not base64) ids."""
    import base64

    import orjson
    from google.protobuf.json_format import MessageToDict

    body = MessageToDict(request, use_integers_for_enums=True)

    def hexify(obj: dict[str, Any]) -> None:
        for key in ("traceId", "spanId", "parentSpanId"):
            if obj.get(key):
                obj[key] = base64.b64decode(obj[key]).hex()

    for resource_spans in body.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                hexify(span)
                for link in span.get("links", []):
                    hexify(link)
    return orjson.dumps(body)
