"""The one path from a decoded ``ExportTraceServiceRequest`` to acknowledged Kafka messages.

Both front ends (OTLP/HTTP and OTLP/gRPC) call ``SpanPublisher``: admission (bounded work in
flight), the split per trace id, the produce, the wait for Kafka's acknowledgement and the
``partial_success`` accounting live here once. An accepted answer means every message was
acknowledged (``acks=all``, idempotent producer). When Kafka is unreachable the publisher
refuses at once (``KafkaLink`` knows), and never waits longer than
``receiver_kafka_timeout_seconds`` for an acknowledgement: an OTel exporter gives up after
its own 10 s, so a slower answer would be a silent loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pipeline.exceptions import PipelineError
from pipeline.ingest.receiver.codec import encode_for_topic, split_by_trace
from pipeline.ingest.receiver.kafka_link import KafkaLink
from pipeline.ingest.receiver.observer import PrometheusReceiverObserver, ReceiverObserver
from pipeline.ingest.receiver.refusal import Reason, Refused
from pipeline.ingest.spans_topic import spans_topic_partitions
from pipeline.kafka.clients import receiver_producer_config
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceiverLimits:
    """Bounds on work in flight; beyond them requests are refused (429), never queued."""

    max_inflight_requests: int = 64
    max_inflight_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class Accepted:
    """What an export answer reports: spans rejected (``partial_success``) and why."""

    accepted_spans: int
    rejected_spans: int
    error_message: str


class SpanPublisher:
    """The Kafka producer of one receiver process, shared by its HTTP and gRPC endpoints."""

    def __init__(
        self,
        settings: Settings,
        limits: ReceiverLimits | None = None,
        observer: ReceiverObserver | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits or ReceiverLimits()
        self.observer = observer if observer is not None else PrometheusReceiverObserver()
        self.producer: AIOKafkaProducer | None = None
        self.link: KafkaLink | None = None
        self.stopping = False
        self.inflight_requests = 0
        self.inflight_bytes = 0
        self._failed = False  # a send failed: renew the producer once Kafka is back
        self._renew_lock = asyncio.Lock()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, spans_topic_partitions, self.settings)
        self.producer = await self._new_producer()
        self.link = KafkaLink(self._client, self.settings.receiver_kafka_timeout_seconds)
        self.link.start()

    def _client(self) -> Any:
        return self.producer.client if self.producer is not None else None

    async def _new_producer(self) -> AIOKafkaProducer:
        timeout = self.settings.receiver_kafka_timeout_seconds
        producer = AIOKafkaProducer(**receiver_producer_config(self.settings, timeout))
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise PipelineError(
                f"receiver cannot connect to Kafka at {self.settings.bootstrap_servers}: {exc}"
            ) from None
        return producer

    async def _renew_after_failure(self) -> None:
        """A fresh producer once Kafka is back after a failed send.

        Batches that expired during an outage leave aiokafka's idempotent producer with a
        sequence gap it never recovers from (every later send fails with
        OutOfOrderSequenceNumber); a new producer gets a new producer id and starts clean.
        Everything the old one held was answered 503, so exporters send it again.
        """
        async with self._renew_lock:
            if not self._failed or self.producer is None:
                return
            old = self.producer
            try:
                self.producer = await self._new_producer()
            except PipelineError as exc:
                raise self.retryable(Reason.UNAVAILABLE, str(exc)) from None
            self._failed = False
            log.warning("Kafka producer renewed after failed sends")
            with contextlib.suppress(KafkaError, TimeoutError):
                await asyncio.wait_for(old.stop(), 5)

    async def stop(self) -> None:
        self.stopping = True
        if self.link is not None:
            await self.link.stop()
        if self.producer is not None:
            with contextlib.suppress(KafkaError):
                await asyncio.wait_for(self.producer.flush(), 30)
            await self.producer.stop()
            self.producer = None

    def retryable(self, reason: Reason, message: str) -> Refused:
        return Refused(reason, message, retry_after=self.settings.receiver_retry_after_seconds)

    @contextlib.asynccontextmanager
    async def admit(self, reserve_bytes: int) -> AsyncIterator[None]:
        """Count one request in flight; refuse (503/429) before any work when it cannot run."""
        if self.stopping or self.producer is None:
            raise self.retryable(Reason.UNAVAILABLE, "receiver is shutting down")
        if self.link is not None and not self.link.up:
            raise self.retryable(Reason.UNAVAILABLE, f"Kafka is unreachable: {self.link.error}")
        if (
            self.inflight_requests >= self.limits.max_inflight_requests
            or self.inflight_bytes + reserve_bytes > self.limits.max_inflight_bytes
        ):
            raise self.retryable(Reason.BUSY, "too many requests in flight; retry later")
        if self._failed:
            await self._renew_after_failure()
        self.inflight_requests += 1
        self.inflight_bytes += reserve_bytes
        try:
            yield
        finally:
            self.inflight_requests -= 1
            self.inflight_bytes -= reserve_bytes

    async def publish(self, request: ExportTraceServiceRequest) -> Accepted:
        """Produce one message per trace id and wait for every acknowledgement."""
        producer = self.producer
        if producer is None:
            raise self.retryable(Reason.UNAVAILABLE, "receiver is shutting down")
        split = split_by_trace(request)
        topic, encoding = self.settings.spans_topic, self.settings.spans_encoding
        rejected, reasons = split.rejected, list(split.reasons)
        sends = []
        for trace, msg in split.traces.items():
            try:
                future = await producer.send(topic, encode_for_topic(msg, encoding), trace.encode())
            except MessageSizeTooLargeError:
                rejected += split.span_counts[trace]
                reasons.append(f"trace {trace}: too large for one Kafka message")
                continue
            except KafkaError as exc:
                raise self._kafka_failed(exc) from None
            sends.append((trace, future))
        if sends:
            _, pending = await asyncio.wait(
                [future for _, future in sends],
                timeout=self.settings.receiver_kafka_timeout_seconds,
            )
            if pending:
                raise self._kafka_failed("Kafka did not acknowledge in time")
        for trace, future in sends:
            error = future.exception()
            if isinstance(error, MessageSizeTooLargeError):
                rejected += split.span_counts[trace]
                reasons.append(f"trace {trace}: too large for one Kafka message")
            elif error is not None:
                raise self._kafka_failed(error)
        accepted = sum(split.span_counts.values()) - (rejected - split.rejected)
        self.observer.on_spans_accepted(max(accepted, 0))
        more = f" (+{len(reasons) - 5} more)" if len(reasons) > 5 else ""
        return Accepted(max(accepted, 0), rejected, "; ".join(reasons[:5]) + more)

    def _kafka_failed(self, error: object) -> Refused:
        self._failed = True
        if self.link is not None:
            self.link.mark_down(str(error))
        return self.retryable(Reason.UNAVAILABLE, f"Kafka is unavailable: {error}")
