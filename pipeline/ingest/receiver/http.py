"""The OTLP/HTTP front end: ``POST /v1/traces``, ``GET /health`` and ``GET /ready``.

Any OpenTelemetry exporter (mlflow-tracing, the OTel SDKs, a Collector's ``otlphttp``
exporter) can point at it. It only translates: reading and bounding the body is ``body``,
decoding is ``codec``, publishing and its guarantees (a 200 means acknowledged by Kafka) are
``SpanPublisher``, shared with the gRPC front end. Status codes follow the OTLP/HTTP spec;
see docs/ingest.md.
"""

from __future__ import annotations

import math

from aiohttp import web

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.receiver.auth import Authenticator
from pipeline.ingest.receiver.body import read_body
from pipeline.ingest.receiver.codec import (
    JSON,
    export_response,
    media_type,
    parse_request,
    status_body,
)
from pipeline.ingest.receiver.publish import SpanPublisher
from pipeline.ingest.receiver.refusal import Reason, Refused


class HttpFrontEnd:
    """aiohttp handlers over a shared publisher and authenticator."""

    def __init__(self, publisher: SpanPublisher, auth: Authenticator) -> None:
        self.publisher = publisher
        self.auth = auth
        self.max_body = publisher.settings.receiver_max_body_bytes

    def web_app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body + 1)
        app.router.add_post("/v1/traces", self.handle_traces)
        app.router.add_get("/health", self.handle_health)
        app.router.add_get("/ready", self.handle_health)
        return app

    async def handle_health(self, request: web.Request) -> web.Response:
        """200 only while the receiver can accept spans: producer up and Kafka reachable."""
        publisher = self.publisher
        if publisher.producer is None or publisher.stopping:
            return web.json_response({"status": "unavailable", "kafka": "unknown"}, status=503)
        link = publisher.link
        if link is not None and not link.up and not await link.probe():
            body = {"status": "unavailable", "kafka": "unreachable", "error": link.error}
            return web.json_response(body, status=503)
        topic = publisher.settings.spans_topic
        return web.json_response({"status": "ok", "kafka": "reachable", "topic": topic})

    async def handle_traces(self, request: web.Request) -> web.Response:
        kind = media_type(request.headers.get("Content-Type")) or JSON
        try:
            response = await self._export(request)
        except Refused as refused:
            headers = {}
            if refused.retry_after is not None:
                headers["Retry-After"] = str(max(1, math.ceil(refused.retry_after)))
            if refused.reason is Reason.UNAUTHENTICATED and self.auth.token is not None:
                headers["WWW-Authenticate"] = 'Bearer realm="evalstream"'
            response = web.Response(
                status=refused.reason.http_status,
                body=status_body(kind, refused.reason.grpc_code, refused.message),
                content_type=kind,
                headers=headers,
            )
        self.publisher.observer.on_answer(str(response.status))
        return response

    async def _export(self, request: web.Request) -> web.Response:
        publisher = self.publisher
        if publisher.stopping or publisher.producer is None:
            raise publisher.retryable(Reason.UNAVAILABLE, "receiver is shutting down")
        self.auth.check(request.headers.get)
        kind = media_type(request.headers.get("Content-Type"))
        if kind is None:
            raise Refused(Reason.UNSUPPORTED, "use application/x-protobuf or application/json")
        declared = request.content_length
        if declared is not None and declared > self.max_body:
            raise Refused(Reason.TOO_LARGE, f"body larger than {self.max_body} bytes")
        async with publisher.admit(declared if declared is not None else self.max_body):
            body = await read_body(request, self.max_body)
            try:
                export = parse_request(body, kind)
            except IngestError as exc:
                raise Refused(Reason.INVALID, str(exc)) from None
            accepted = await publisher.publish(export)
        return web.Response(
            body=export_response(kind, accepted.rejected_spans, accepted.error_message),
            content_type=kind,
            status=200,
        )
