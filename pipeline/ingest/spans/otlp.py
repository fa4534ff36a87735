"""Decode OTLP ``ExportTraceServiceRequest`` payloads into normalized span dicts.

A normalized span is the one internal span shape of the ingest package (the span assembler
groups them by ``trace_id``)::

    {trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code,
     status_message, attributes, events: [{name, time_ns, attributes}], resource}

ids are lower-case hex, times are epoch nanoseconds, ``status_code`` is OK/ERROR/UNSET and
attribute values are plain Python values. Both the OTLP/JSON wire form (hex ids, integer
enums) and the generic protobuf JSON mapping (base64 ids, enum names) are accepted.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.spans.values import normalize_id, to_ns

_KINDS = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUS = ("UNSET", "OK", "ERROR")


def _get(obj: dict[str, Any], camel: str, snake: str, default: Any = None) -> Any:
    """Protobuf JSON parsers accept both the camelCase and the original field name."""
    value = obj.get(camel)
    return obj.get(snake, default) if value is None else value


def any_value(value: Any) -> Any:
    """Convert an OTLP ``AnyValue`` object into a Python value."""
    if not isinstance(value, dict):
        return value
    for camel, snake in (("stringValue", "string_value"), ("boolValue", "bool_value")):
        if camel in value or snake in value:
            return _get(value, camel, snake)
    if "intValue" in value or "int_value" in value:
        return int(_get(value, "intValue", "int_value"))
    if "doubleValue" in value or "double_value" in value:
        return float(_get(value, "doubleValue", "double_value"))
    if "arrayValue" in value or "array_value" in value:
        inner = _get(value, "arrayValue", "array_value") or {}
        return [any_value(item) for item in inner.get("values", [])]
    if "kvlistValue" in value or "kvlist_value" in value:
        inner = _get(value, "kvlistValue", "kvlist_value") or {}
        return key_values(inner.get("values", []))
    if "bytesValue" in value or "bytes_value" in value:
        return _get(value, "bytesValue", "bytes_value")
    return None


def key_values(items: Any) -> dict[str, Any]:
    """Flatten a list of OTLP ``KeyValue`` objects into a dict."""
    if isinstance(items, dict):
        return dict(items)
    return {item["key"]: any_value(item.get("value")) for item in items or [] if "key" in item}


def enum_name(value: Any, names: tuple[str, ...], prefix: str) -> str:
    """Integer enums (OTLP/JSON), ``PREFIX_NAME`` strings (protobuf JSON) or bare names."""
    if value is None or value == "":
        return names[0]
    if isinstance(value, int) and not isinstance(value, bool):
        return names[value] if 0 <= value < len(names) else names[0]
    text = str(value).strip().upper()
    if text.isdigit():
        return enum_name(int(text), names, prefix)
    for cut in (prefix, "SPANKIND.", "STATUSCODE."):
        text = text.removeprefix(cut)
    return text if text in names else names[0]


def status_name(value: Any) -> str:
    return enum_name(value, _STATUS, "STATUS_CODE_")


def kind_name(value: Any) -> str:
    return enum_name(value, _KINDS, "SPAN_KIND_")


def _span(raw: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    status = raw.get("status") or {}
    return {
        "trace_id": normalize_id(_get(raw, "traceId", "trace_id")),
        "span_id": normalize_id(_get(raw, "spanId", "span_id")),
        "parent_span_id": normalize_id(_get(raw, "parentSpanId", "parent_span_id")),
        "name": raw.get("name", ""),
        "kind": kind_name(raw.get("kind")),
        "start_ns": to_ns(_get(raw, "startTimeUnixNano", "start_time_unix_nano")),
        "end_ns": to_ns(_get(raw, "endTimeUnixNano", "end_time_unix_nano")),
        "status_code": status_name(status.get("code")),
        "status_message": status.get("message") or None,
        "attributes": key_values(raw.get("attributes")),
        "events": [
            {
                "name": event.get("name", ""),
                "time_ns": to_ns(_get(event, "timeUnixNano", "time_unix_nano")),
                "attributes": key_values(event.get("attributes")),
            }
            for event in raw.get("events") or []
        ],
        "resource": resource,
    }


def decode_otlp_json(payload: bytes | str | dict[str, Any]) -> list[dict[str, Any]]:
    """Decode an OTLP/JSON ``ExportTraceServiceRequest`` into normalized spans."""
    if isinstance(payload, bytes | str):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise IngestError(f"OTLP/JSON body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise IngestError("expected an OTLP/JSON ExportTraceServiceRequest object")
    resource_spans = _get(payload, "resourceSpans", "resource_spans")
    if not isinstance(resource_spans, list):
        raise IngestError("expected an OTLP/JSON object with a 'resourceSpans' list")
    spans: list[dict[str, Any]] = []
    try:
        for block in resource_spans:
            resource = key_values((block.get("resource") or {}).get("attributes"))
            scopes = _get(block, "scopeSpans", "scope_spans")
            if scopes is None:  # pre-1.0 exporters
                scopes = _get(block, "instrumentationLibrarySpans", "instrumentation_library_spans")
            for scope in scopes or []:
                spans.extend(_span(raw, resource) for raw in scope.get("spans") or [])
    except (AttributeError, TypeError, ValueError, KeyError, OverflowError) as exc:
        # Untrusted input: a wrong type anywhere in the tree is the message's fault.
        raise IngestError(f"malformed OTLP/JSON span data: {type(exc).__name__}: {exc}") from None
    return spans


def decode_otlp_proto(body: bytes) -> list[dict[str, Any]]:
    """Decode a protobuf ``ExportTraceServiceRequest`` (needs ``opentelemetry-proto``)."""
    try:
        from google.protobuf.json_format import MessageToDict
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
    except ImportError as exc:
        raise IngestError("decoding OTLP protobuf needs the 'opentelemetry-proto' package") from exc
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise IngestError(f"body is not an OTLP protobuf ExportTraceServiceRequest: {exc}") from exc
    return decode_otlp_json(MessageToDict(request))
