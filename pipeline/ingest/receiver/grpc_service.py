"""The OTLP/gRPC front end: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

The default protocol of the OTel exporters (and of the seed's example) is gRPC on port 4317.
This servicer runs on the same event loop and the same ``SpanPublisher`` as the HTTP front
end, so both have one set of semantics: success only after Kafka acknowledged,
``partial_success`` for spans without valid ids, the same credentials (as metadata), and
retryable refusals (``UNAVAILABLE`` / ``RESOURCE_EXHAUSTED``) carrying RetryInfo. gRPC itself
inflates gzip and enforces the size limit (``grpc.max_receive_message_length``).
"""

from __future__ import annotations

import logging

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pipeline import prometheus
from pipeline.ingest.receiver.auth import Authenticator
from pipeline.ingest.receiver.codec import retry_info
from pipeline.ingest.receiver.publish import SpanPublisher
from pipeline.ingest.receiver.refusal import Refused

log = logging.getLogger(__name__)


class GrpcTraceService(trace_service_pb2_grpc.TraceServiceServicer):
    """``Export`` over the shared publisher; refusals become gRPC status codes."""

    def __init__(self, publisher: SpanPublisher, auth: Authenticator) -> None:
        self.publisher = publisher
        self.auth = auth

    async def Export(  # the generated servicer's name
        self, request: ExportTraceServiceRequest, context: grpc.aio.ServicerContext
    ) -> ExportTraceServiceResponse:
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        try:
            self.auth.check(lambda name: _text(metadata.get(name.lower())))
            async with self.publisher.admit(request.ByteSize()):
                accepted = await self.publisher.publish(request)
        except Refused as refused:
            code = _STATUS_BY_VALUE[refused.reason.grpc_code]
            prometheus.RECEIVER_REQUESTS.labels(code.name).inc()
            trailer = ()
            if refused.retry_after is not None:
                trailer = (("google.rpc.retryinfo-bin", retry_info(refused.retry_after)),)
            context.set_trailing_metadata(trailer)
            await context.abort(code, refused.message)
        prometheus.RECEIVER_REQUESTS.labels("OK").inc()
        response = ExportTraceServiceResponse()
        if accepted.rejected_spans:
            response.partial_success.rejected_spans = accepted.rejected_spans
            response.partial_success.error_message = accepted.error_message
        return response


_STATUS_BY_VALUE = {status.value[0]: status for status in grpc.StatusCode}


def _text(value: str | bytes | None) -> str | None:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def grpc_server(publisher: SpanPublisher, auth: Authenticator) -> grpc.aio.Server:
    """A server with the TraceService added; the caller binds the port and starts it."""
    limit = publisher.settings.receiver_max_body_bytes
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.so_reuseport", 0),  # a port in use must fail, not be shared silently
        ]
    )
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        GrpcTraceService(publisher, auth), server
    )
    return server
