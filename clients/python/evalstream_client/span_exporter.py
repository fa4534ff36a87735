"""KafkaSpanExporter: an OpenTelemetry SDK ``SpanExporter`` that writes to the spans topic.

It writes what the OTel Collector's kafka exporter writes with ``encoding: otlp_proto`` (or
``otlp_json``) and ``partition_traces_by_id: true``: one ``ExportTraceServiceRequest`` per
trace id, holding only that trace's spans, keyed by the lower-case hex trace id. The span
assembler cannot tell the two apart, so an app instrumented with OpenTelemetry or OpenInference
can skip the receiver/Collector hop. Keying by trace id puts every span of a trace on one
partition, which is what lets one assembler instance see a whole trace.

The OTel SDK drops a batch whose export fails (it does not retry), so a failed or impossible
send is never reported as a failure: the messages are spilled to ``<spill_dir>/spans`` and
replayed once Kafka answers, as ``TraceProducer`` does with traces. While Kafka is known to be
down, ``export`` spills at once instead of waiting for a timeout.

Needs the optional ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-common``
(the SDK's own span -> protobuf encoder, so attributes, events, links and status map exactly
as the OTLP exporters map them).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "KafkaSpanExporter needs the OpenTelemetry SDK: pip install 'evalstream-client[otel]'"
        " (opentelemetry-sdk and opentelemetry-exporter-otlp-proto-common)"
    ) from exc

from evalstream_client.kafka_compat import close_producer
from evalstream_client.parts import KafkaParts
from evalstream_client.settings import ClientSettings


def span_line(key: bytes, value: bytes) -> bytes:
    """A spill line of one spans message (binary protobuf, so base64 inside JSON)."""
    return json.dumps({"key": key.decode(), "value": base64.b64encode(value).decode()}).encode()


def decode_span_line(line: bytes) -> tuple[bytes, bytes]:
    message = json.loads(line)
    return message["key"].encode(), base64.b64decode(message["value"], validate=True)


class KafkaSpanExporter(SpanExporter):
    """Use with a ``BatchSpanProcessor``; ``export`` waits up to ``timeout`` for Kafka's
    acknowledgements, and whatever Kafka does not take ends up in the spill store."""

    def __init__(
        self,
        settings: Any = None,  # ClientSettings, or a look-alike such as the worker's Settings
        *,
        topic: str | None = None,
        encoding: str | None = None,
        timeout: float = 10.0,
        spill_dir: Path | str | None = None,
        replay_interval: float = 1.0,
        kafka_config: Mapping[str, Any] | None = None,
    ) -> None:
        s = ClientSettings.coerce(settings)
        self.topic = topic or s.spans_topic
        self.encoding = encoding or s.spans_encoding
        if self.encoding not in ("otlp_proto", "otlp_json"):
            raise ValueError(f"unknown spans encoding {self.encoding!r}")
        self.timeout = timeout
        parts = KafkaParts.create(
            s,
            client_name="evalstream-span-exporter",
            topic=self.topic,
            spill_dir=Path(spill_dir) if spill_dir else Path(s.spill_dir) / "spans",
            kafka_config=kafka_config,
            outage_log_interval=s.outage_log_interval,
        )
        self._parts = parts
        self._counters, self._spill, self._health = parts.counters, parts.spill, parts.health
        self._stop = parts.stop
        self._link = parts.replay_sender(
            decode_line=decode_span_line, on_tick=self._tick, replay_interval=replay_interval
        )
        self._link_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: dict[
            int, tuple[bytes, bytes]
        ] = {}  # sent, neither acknowledged nor failed yet
        self._ids = itertools.count()
        self._shutdown = False

    def _start(self) -> None:
        """The link thread starts on first export: creating the exporter contacts no broker."""
        with self._lock:
            if self._link_thread is None:
                self._parts.watch_logs()
                self._link_thread = self._parts.thread(self._link.run, "link")
                self._link_thread.start()

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        """One message value: the spans as an ``ExportTraceServiceRequest``."""
        request = encode_spans(spans)
        if self.encoding == "otlp_proto":
            return request.SerializeToString()
        return _otlp_json(request)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        deadline = time.monotonic() + self.timeout
        producer = self._producer(deadline)
        by_trace: dict[int, list[ReadableSpan]] = {}
        for span in spans:
            by_trace.setdefault(span.context.trace_id, []).append(span)
        messages = [
            (f"{trace_id:032x}".encode(), self.encode(group))
            for trace_id, group in by_trace.items()
        ]
        if producer is None or not self._health.healthy:
            self._spill_messages(messages)  # Kafka is known to be away: no point waiting
            return SpanExportResult.SUCCESS
        futures = [self._send(producer, key, value) for key, value in messages]
        for future in futures:
            if future is not None:
                with contextlib.suppress(Exception):  # failures are spilled by the errback
                    future.get(timeout=max(deadline - time.monotonic(), 0.001))
        if any(future is not None and not future.is_done for future in futures):
            self._health.trouble(f"no acknowledgement within {self.timeout}s")
        self._spill.sync()
        return SpanExportResult.SUCCESS

    def _producer(self, deadline: float) -> Any:
        """The connected producer; the first export waits for the first connection attempt."""
        self._start()
        self._link.tried.wait(max(deadline - time.monotonic(), 0))
        return self._link.producer

    def _send(self, producer: Any, key: bytes, value: bytes) -> Any:
        message_id = next(self._ids)
        with self._lock:
            self._pending[message_id] = (key, value)
        try:
            future = producer.send(self.topic, key=key, value=value)
        except Exception as exc:
            self._on_error(message_id, exc)
            return None
        future.add_callback(self._on_ack, message_id)
        future.add_errback(self._on_error, message_id)
        return future

    def _on_ack(self, message_id: int, _metadata: Any) -> None:
        with self._lock:
            self._pending.pop(message_id, None)
        self._counters.add("sent")
        self._health.ok()

    def _on_error(self, message_id: int, exc: BaseException) -> None:
        with self._lock:
            message = self._pending.pop(message_id, None)
        if message is not None:
            self._health.trouble(exc)
            self._spill_messages([message], sync=False)  # kafka-python's thread: tick syncs

    def _spill_messages(self, messages: list[tuple[bytes, bytes]], sync: bool = True) -> None:
        for key, value in messages:
            self._spill.append(span_line(key, value))
        self._counters.add("spilled", len(messages))
        if sync:
            self._spill.sync()

    def _tick(self) -> None:
        with contextlib.suppress(OSError):
            self._spill.sync()
        self._health.report()

    def stats(self) -> dict[str, int]:
        """sent / spilled / replayed / failed / retried messages (one message = one trace's
        spans of one export), and the spill files waiting for replay."""
        counts = self._counters.snapshot()
        counts["spill_files"] = len(self._spill.segments()) + self._spill.has_active
        return counts

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        producer = self._link.producer
        if producer is None:
            return True
        try:
            producer.flush(timeout=timeout_millis / 1000)
        except Exception:
            return False
        return True

    def shutdown(self) -> None:
        """Stop; messages Kafka has not acknowledged within ``timeout`` are spilled."""
        self._shutdown = True
        self._stop.set()
        producer = self._link.producer
        if producer is not None:  # unacknowledged messages come back through the errbacks
            close_producer(producer, self.timeout)
        if self._link_thread is not None:
            self._link_thread.join(1.0)
        with self._lock:
            unresolved, self._pending = list(self._pending.values()), {}
        self._spill_messages(unresolved, sync=False)
        self._spill.close()
        self._parts.unwatch_logs()


def _otlp_json(request: Any) -> bytes:
    """OTLP/JSON as the Collector writes it: integer enums and hex (not base64) ids."""
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
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
