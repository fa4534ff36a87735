"""``evalstream receiver``: an OTLP/HTTP ``/v1/traces`` endpoint that writes spans to Kafka.

Any OpenTelemetry exporter (mlflow-tracing, the OTel SDKs, a Collector's ``otlphttp``
exporter) can point at it. A 200 means durable: the answer waits until Kafka acknowledged
every message (``acks=all``, idempotent producer). Load is bounded, not buffered: past
``ReceiverLimits`` the receiver answers 429 with ``Retry-After`` and the exporter retries.
Status codes follow the OTLP/HTTP spec; see docs/ingest.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
from dataclasses import dataclass

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from pipeline import prometheus
from pipeline.exceptions import PipelineError
from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.receiver.body import HttpReject, read_body
from pipeline.ingest.receiver.codec import (
    JSON,
    PROTOBUF,
    encode_for_topic,
    export_response,
    media_type,
    parse_request,
    split_by_trace,
    status_body,
)
from pipeline.ingest.spans_topic import spans_topic_partitions
from pipeline.kafka.clients import receiver_producer_config
from pipeline.settings import Settings, load_settings

log = logging.getLogger(__name__)

_UNAUTHENTICATED, _INVALID, _RESOURCE_EXHAUSTED, _UNAVAILABLE = 16, 3, 8, 14


@dataclass(frozen=True)
class ReceiverLimits:
    """Bounds on work in flight; beyond them requests are refused (429), never queued."""

    max_inflight_requests: int = 64
    max_inflight_bytes: int = 64 * 1024 * 1024
    send_timeout_seconds: float = 30.0
    retry_after_seconds: int = 2


class OtlpReceiver:
    """Request handling and the Kafka producer of one receiver process."""

    def __init__(self, settings: Settings, limits: ReceiverLimits | None = None) -> None:
        self.settings = settings
        self.limits = limits or ReceiverLimits()
        self.producer: AIOKafkaProducer | None = None
        self.stopping = False
        self.inflight_requests = 0
        self.inflight_bytes = 0
        token = settings.receiver_token
        self._token = token.get_secret_value().encode() if token else None

    async def start_producer(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, spans_topic_partitions, self.settings)
        config = receiver_producer_config(self.settings, self.limits.send_timeout_seconds)
        producer = AIOKafkaProducer(**config)
        try:
            await producer.start()
        except KafkaError as exc:
            await producer.stop()
            raise PipelineError(
                f"receiver cannot connect to Kafka at {self.settings.bootstrap_servers}: {exc}"
            ) from None
        self.producer = producer

    async def stop_producer(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(KafkaError):
                await self.producer.flush()
            await self.producer.stop()
            self.producer = None

    def web_app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.receiver_max_body_bytes + 1,
            handler_args={"auto_decompress": False},  # body.read_body inflates, bounded
        )
        app.router.add_post("/v1/traces", self.handle_traces)
        app.router.add_get("/health", self.handle_health)
        return app

    async def handle_health(self, request: web.Request) -> web.Response:
        producer = self.producer
        if producer is None or self.stopping:
            return web.json_response({"status": "unavailable"}, status=503)
        try:
            await asyncio.wait_for(producer.partitions_for(self.settings.spans_topic), 5)
        except (KafkaError, TimeoutError):
            return web.json_response({"status": "kafka unreachable"}, status=503)
        return web.json_response({"status": "ok", "topic": self.settings.spans_topic})

    async def handle_traces(self, request: web.Request) -> web.Response:
        kind = media_type(request.headers.get("Content-Type")) or JSON
        try:
            response = await self._export(request)
        except HttpReject as reject:
            body = status_body(kind, reject.grpc_code, reject.message)
            response = web.Response(
                status=reject.status,
                body=body,
                content_type=kind,
                headers=reject.headers,
            )
        prometheus.RECEIVER_REQUESTS.labels(str(response.status)).inc()
        _close_if_body_unread(request, response)
        return response

    def _check_auth(self, request: web.Request) -> None:
        if self._token is None:
            return
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), self._token):
            raise HttpReject(
                401, _UNAUTHENTICATED, "missing or invalid bearer token",
                {"WWW-Authenticate": 'Bearer realm="evalstream"'},
            )  # fmt: skip

    def _busy(self, message: str, status: int = 429) -> HttpReject:
        retry = {"Retry-After": str(self.limits.retry_after_seconds)}
        code = _RESOURCE_EXHAUSTED if status == 429 else _UNAVAILABLE
        return HttpReject(status, code, message, retry)

    async def _export(self, request: web.Request) -> web.Response:
        if self.stopping or self.producer is None:
            raise self._busy("receiver is shutting down", 503)
        self._check_auth(request)
        kind = media_type(request.headers.get("Content-Type"))
        if kind is None:
            raise HttpReject(415, _INVALID, "use application/x-protobuf or application/json")
        limit = self.settings.receiver_max_body_bytes
        declared = request.content_length
        if declared is not None and declared > limit:
            raise HttpReject(413, _INVALID, f"body larger than {limit} bytes")
        reserve = declared if declared is not None else limit
        if (
            self.inflight_requests >= self.limits.max_inflight_requests
            or self.inflight_bytes + reserve > self.limits.max_inflight_bytes
        ):
            raise self._busy("too many requests in flight; retry later")
        self.inflight_requests += 1
        self.inflight_bytes += reserve
        try:
            body = await read_body(request, limit)
            return await self._publish(body, kind)
        finally:
            self.inflight_requests -= 1
            self.inflight_bytes -= reserve

    async def _publish(self, body: bytes, kind: str) -> web.Response:
        try:
            split = split_by_trace(parse_request(body, kind))
        except IngestError as exc:
            raise HttpReject(400, _INVALID, str(exc)) from None
        producer = self.producer
        assert producer is not None
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
                log.warning("publishing spans to %s failed: %s", topic, exc)
                raise self._busy("Kafka is unavailable", 503) from None
            sends.append((trace, future))
        if sends:
            _, pending = await asyncio.wait(
                [future for _, future in sends], timeout=self.limits.send_timeout_seconds
            )
            if pending:
                raise self._busy("Kafka did not acknowledge in time", 503)
        accepted = sum(split.span_counts[trace] for trace, _ in sends)
        for trace, future in sends:
            error = future.exception()
            if isinstance(error, MessageSizeTooLargeError):
                rejected += split.span_counts[trace]
                reasons.append(f"trace {trace}: too large for one Kafka message")
            elif error is not None:
                log.warning("publishing spans to %s failed: %s", topic, error)
                raise self._busy("Kafka is unavailable", 503)
        prometheus.RECEIVER_SPANS.inc(max(accepted - (rejected - split.rejected), 0))
        more = f" (+{len(reasons) - 5} more)" if len(reasons) > 5 else ""
        message = "; ".join(reasons[:5]) + more
        return web.Response(
            body=export_response(kind, rejected, message), content_type=kind, status=200
        )


def _close_if_body_unread(request: web.Request, response: web.Response) -> None:
    """Answer with ``Connection: close`` when the body was not read to its end.

    After an answer given before the body was read (401, 415, 413, 429) the connection
    still holds the rest of the body; telling the client to close keeps a keep-alive client
    from sending its next request into it. A body that broke the HTTP parser (a bad chunked
    encoding) closes at once, since aiohttp would otherwise try to drain it and fail again.
    """
    broken = request.content.exception() is not None
    if broken or not request.content.is_eof():
        response.force_close()
    if broken:
        request.protocol.force_close()


async def serve(
    settings: Settings,
    *,
    ready: asyncio.Event | None = None,
    limits: ReceiverLimits | None = None,
) -> None:
    """Run the receiver until cancelled; then stop accepting, finish requests, flush Kafka."""
    receiver = OtlpReceiver(settings, limits)
    prometheus.serve_metrics(settings.metrics_port)
    await receiver.start_producer()
    runner = web.AppRunner(receiver.web_app(), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner, settings.receiver_host, settings.receiver_port, shutdown_timeout=30.0
        )
        await site.start()
        log.info(
            "OTLP receiver on http://%s:%s/v1/traces -> %s",
            settings.receiver_host, settings.receiver_port, settings.spans_topic,
        )  # fmt: skip
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        receiver.stopping = True
        await runner.cleanup()  # stops listening, waits for in-flight handlers
        await receiver.stop_producer()


def run_receiver(settings: Settings, limits: ReceiverLimits | None = None) -> None:
    """Blocking entry point: SIGTERM / SIGINT shut the receiver down gracefully."""

    async def main() -> None:
        task = asyncio.ensure_future(serve(settings, limits=limits))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())


def receiver_command(host: str | None, port: int | None) -> None:
    """What ``evalstream receiver`` runs (the CLI maps flags and prints errors)."""
    settings = load_settings(receiver_host=host, receiver_port=port)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    auth = "bearer token required" if settings.receiver_token else "no auth"
    print(
        f"OTLP/HTTP receiver on http://{settings.receiver_host}:{settings.receiver_port}/v1/traces"
        f" ({PROTOBUF}, {JSON}; {auth}) -> {settings.spans_topic} ({settings.spans_encoding})",
        flush=True,
    )
    run_receiver(settings)
