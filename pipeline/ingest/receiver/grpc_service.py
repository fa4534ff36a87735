"""The OTLP/gRPC front end: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

The default protocol of the OTel exporters (and of the seed's example) is gRPC on port 4317.
This servicer runs on the same event loop and the same ``SpanPublisher`` as the HTTP front
end, so both have one set of semantics: success only after Kafka acknowledged,
``partial_success`` for spans without valid ids, the same credentials (as metadata), and
retryable refusals (``UNAVAILABLE`` / ``RESOURCE_EXHAUSTED``) carrying RetryInfo. gRPC itself
inflates gzip and enforces the size limit (``grpc.max_receive_message_length``).

The method is registered with a bytes-in handler and decoded here, after the credentials are
checked: grpcio's own decoding of a malformed request answers ``UNKNOWN`` (and before any
authentication); this answers ``INVALID_ARGUMENT``, as the OTLP spec asks (found by fuzzing).
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pipeline.ingest.receiver.auth import Authenticator
from pipeline.ingest.receiver.codec import retry_info
from pipeline.ingest.receiver.publish import SpanPublisher
from pipeline.ingest.receiver.refusal import Reason, Refused

log = logging.getLogger(__name__)
SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


class GrpcTraceService:
    """``Export`` over the shared publisher; refusals become gRPC status codes."""

    def __init__(self, publisher: SpanPublisher, auth: Authenticator) -> None:
        self.publisher = publisher
        self.auth = auth

    async def export(
        self, body: bytes, context: grpc.aio.ServicerContext
    ) -> ExportTraceServiceResponse:
        metadata = {key.lower(): value for key, value in context.invocation_metadata() or ()}
        try:
            self.auth.check(lambda name: _text(metadata.get(name.lower())))
            request = _decode(body)
            async with self.publisher.admit(len(body)):
                accepted = await self.publisher.publish(request)
        except Refused as refused:
            code = _STATUS_BY_VALUE[refused.reason.grpc_code]
            self.publisher.observer.on_answer(code.name)
            trailer = ()
            if refused.retry_after is not None:
                trailer = (("google.rpc.retryinfo-bin", retry_info(refused.retry_after)),)
            context.set_trailing_metadata(trailer)
            await context.abort(code, refused.message)
        self.publisher.observer.on_answer("OK")
        response = ExportTraceServiceResponse()
        if accepted.rejected_spans:
            response.partial_success.rejected_spans = accepted.rejected_spans
            response.partial_success.error_message = accepted.error_message
        return response


_STATUS_BY_VALUE = {status.value[0]: status for status in grpc.StatusCode}


def _decode(body: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(body)
    except DecodeError as error:
        raise Refused(Reason.INVALID, f"not an ExportTraceServiceRequest: {error}") from None


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
    service = GrpcTraceService(publisher, auth)
    export = grpc.unary_unary_rpc_method_handler(
        service.export,
        request_deserializer=None,  # bytes: decoded by the service, after authentication
        response_serializer=ExportTraceServiceResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Export": export}),)
    )
    return server
