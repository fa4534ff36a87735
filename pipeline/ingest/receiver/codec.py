"""OTLP/HTTP wire formats for the receiver: parse a request, split it per trace, answer.

The receiver publishes exactly what the OpenTelemetry Collector's kafka exporter writes with
``partition_traces_by_id: true``: one ``ExportTraceServiceRequest`` per trace id (resource and
scope kept), keyed by the hex trace id, serialized as protobuf (``otlp_proto``) or OTLP/JSON
(``otlp_json``: hex ids, integer enums). Whatever feeds the spans topic, the assembler then
sees one shape.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from pipeline.ingest.exceptions import IngestError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_ID_LENGTHS = {"traceId": 16, "spanId": 8, "parentSpanId": 8}
_HEX_LENGTHS = {32, 16}


@dataclass
class SplitRequest:
    """The spans of one request grouped per trace id, plus what had to be rejected."""

    traces: dict[str, ExportTraceServiceRequest] = field(default_factory=dict)
    span_counts: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)


def media_type(content_type: str | None) -> str | None:
    """``application/json; charset=utf-8`` -> ``application/json``; None if unsupported."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return base if base in (PROTOBUF, JSON) else None


def _hex_ids_to_base64(obj: Any) -> None:
    """OTLP/JSON carries ids as hex; the generic protobuf JSON parser expects base64.

    A hex trace id has 32 characters and base64 of 16 bytes has 24, so the length tells the
    two forms apart and both are accepted.
    """
    if isinstance(obj, list):
        for item in obj:
            _hex_ids_to_base64(item)
        return
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        if key in _ID_LENGTHS or key in ("trace_id", "span_id", "parent_span_id"):
            if isinstance(value, str) and len(value) in _HEX_LENGTHS:
                # not hex: leave it to the protobuf parser to judge it as base64
                with contextlib.suppress(ValueError):
                    obj[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
        else:
            _hex_ids_to_base64(value)


def parse_request(body: bytes, kind: str) -> ExportTraceServiceRequest:
    """Decode a request body; ``IngestError`` (-> HTTP 400) when it is malformed."""
    request = ExportTraceServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, ValueError) as exc:
            raise IngestError(f"malformed protobuf ExportTraceServiceRequest: {exc}") from None
        return request
    try:
        payload = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise IngestError("expected an OTLP/JSON ExportTraceServiceRequest object")
    _hex_ids_to_base64(payload)
    try:
        json_format.ParseDict(payload, request, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
        raise IngestError(f"malformed OTLP/JSON ExportTraceServiceRequest: {exc}") from None
    return request


def _valid_id(raw: bytes, size: int) -> bool:
    return len(raw) == size and raw != bytes(size)


def split_by_trace(request: ExportTraceServiceRequest) -> SplitRequest:
    """One request per trace id; spans without a valid trace or span id are rejected."""
    out = SplitRequest()
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if not _valid_id(span.trace_id, 16):
                    out.rejected += 1
                    out.reasons.append(f"span {span.name!r}: missing or invalid trace id")
                    continue
                if not _valid_id(span.span_id, 8):
                    out.rejected += 1
                    out.reasons.append(f"span {span.name!r}: missing or invalid span id")
                    continue
                trace_hex = span.trace_id.hex()
                target = out.traces.get(trace_hex)
                if target is None:
                    target = out.traces[trace_hex] = ExportTraceServiceRequest()
                _scope_for(target, resource_spans, scope_spans).spans.append(span)
                out.span_counts[trace_hex] = out.span_counts.get(trace_hex, 0) + 1
    return out


def _scope_for(target: ExportTraceServiceRequest, resource_spans: Any, scope_spans: Any) -> Any:
    """The target's ScopeSpans mirroring the source resource + scope (created on first use)."""
    last_rs = target.resource_spans[-1] if target.resource_spans else None
    if last_rs is None or last_rs.resource != resource_spans.resource:
        last_rs = target.resource_spans.add()
        last_rs.resource.CopyFrom(resource_spans.resource)
        last_rs.schema_url = resource_spans.schema_url
    last_ss = last_rs.scope_spans[-1] if last_rs.scope_spans else None
    if last_ss is None or last_ss.scope != scope_spans.scope:
        last_ss = last_rs.scope_spans.add()
        last_ss.scope.CopyFrom(scope_spans.scope)
        last_ss.schema_url = scope_spans.schema_url
    return last_ss


def _base64_ids_to_hex(obj: Any) -> None:
    if isinstance(obj, list):
        for item in obj:
            _base64_ids_to_hex(item)
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key in _ID_LENGTHS and isinstance(value, str):
                obj[key] = base64.b64decode(value).hex()
            else:
                _base64_ids_to_hex(value)


def to_otlp_json(message: ExportTraceServiceRequest) -> bytes:
    """OTLP/JSON as the spec (and the Collector's ``otlp_json``) writes it: hex ids, int enums."""
    data = json_format.MessageToDict(message, use_integers_for_enums=True)
    _base64_ids_to_hex(data)
    return orjson.dumps(data)


def encode_for_topic(message: ExportTraceServiceRequest, encoding: str) -> bytes:
    return to_otlp_json(message) if encoding == "otlp_json" else message.SerializeToString()


def export_response(kind: str, rejected: int = 0, error_message: str = "") -> bytes:
    """An ``ExportTraceServiceResponse``; ``partial_success`` only when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = error_message
    if kind == PROTOBUF:
        return response.SerializeToString()
    return orjson.dumps(json_format.MessageToDict(response))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def status_body(kind: str, code: int, message: str) -> bytes:
    """A ``google.rpc.Status`` (the OTLP error body), hand-encoded: no googleapis dependency."""
    if kind == PROTOBUF:
        text = message.encode()
        return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return orjson.dumps({"code": code, "message": message})


def retry_info(seconds: float) -> bytes:
    """A ``google.rpc.RetryInfo`` (gRPC trailer ``google.rpc.retryinfo-bin``), hand-encoded.

    OTel exporters wait ``retry_delay`` before retrying; without RetryInfo the OTLP spec says
    RESOURCE_EXHAUSTED is not retryable at all.
    """
    whole = int(seconds)
    nanos = round((seconds - whole) * 1e9)
    duration = b"\x08" + _varint(whole) + (b"\x10" + _varint(nanos) if nanos else b"")
    return b"\x0a" + _varint(len(duration)) + duration
