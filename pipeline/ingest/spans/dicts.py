"""Normalize span dicts written by SDKs and tools other than an OTLP exporter.

Recognized shapes (all end as the normalized span of ``otlp_json``):

* OTel Python ``ReadableSpan.to_json()`` (ConsoleSpanExporter, Monocle): ``context``,
  ``parent_id``, ISO ``start_time``, ``status.status_code``, ``resource.attributes``;
* MLflow 2 span dicts: the same ``context`` layout with nanosecond ints and ``status_code``;
* MLflow 3 span dicts: ``span_id``, ``parent_span_id``, ``start_time_unix_nano``,
  ``status.code``, optional ``otel_trace_id`` (v4);
* OTel JS ``ReadableSpan`` JSON: ``spanContext``, ``parentSpanId``/``parentSpanContext``,
  ``[seconds, nanos]`` times, numeric ``status.code``;
* spans that are already normalized (``start_ns`` present).
"""

from __future__ import annotations

from typing import Any

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.spans.otlp import key_values, kind_name, status_name
from pipeline.ingest.spans.values import normalize_id, to_ns

_NORMALIZED_KEYS = frozenset({"span_id", "start_ns"})


def is_span_dict(obj: Any) -> bool:
    """Whether ``obj`` looks like one span in any shape this module understands."""
    if not isinstance(obj, dict) or "name" not in obj:
        return False
    return (
        "context" in obj
        or "spanContext" in obj
        or ("span_id" in obj and ("start_time_unix_nano" in obj or "start_ns" in obj))
    )


def _resource(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    return key_values(raw.get("attributes", raw if "service.name" in raw else {}))


def _events(raw: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {
            "name": event.get("name", ""),
            "time_ns": to_ns(
                next(
                    (event[k] for k in ("time_unix_nano", "timestamp", "time") if k in event),
                    None,
                )
            ),
            "attributes": key_values(event.get("attributes")),
        }
        for event in raw or []
    ]


def _status(raw: dict[str, Any]) -> tuple[str, str | None]:
    status = raw.get("status")
    if isinstance(status, dict):
        code = status.get("status_code", status.get("code"))
        message = status.get("description") or status.get("message")
        return status_name(code), message or None
    return status_name(raw.get("status_code") or status), raw.get("status_message") or None


def normalize_span(raw: dict[str, Any], resource: dict[str, Any] | None = None) -> dict[str, Any]:
    """Normalize one span dict of a recognized shape (see module docstring)."""
    if not is_span_dict(raw):
        raise IngestError(
            "expected a span dict (OTel SDK JSON, MLflow span or normalized span), got keys "
            + ", ".join(sorted(raw)[:8])
        )
    if raw.keys() >= _NORMALIZED_KEYS:
        return {**raw, "resource": raw.get("resource") or resource or {}}
    context = raw.get("context") or raw.get("spanContext") or {}
    parent = raw.get("parent_id") or raw.get("parentSpanId") or raw.get("parent_span_id")
    if parent is None and isinstance(raw.get("parentSpanContext"), dict):
        parent = raw["parentSpanContext"].get("spanId")
    trace_id = raw.get("otel_trace_id") or context.get("trace_id") or context.get("traceId")
    code, message = _status(raw)
    start = next(
        (raw[k] for k in ("start_time_unix_nano", "start_time", "startTime") if k in raw), None
    )
    end = next((raw[k] for k in ("end_time_unix_nano", "end_time", "endTime") if k in raw), None)
    return {
        "trace_id": normalize_id(trace_id or raw.get("trace_id")),
        "span_id": normalize_id(
            raw.get("span_id") or context.get("span_id") or context.get("spanId")
        ),
        "parent_span_id": normalize_id(parent),
        "name": raw.get("name", ""),
        "kind": kind_name(raw.get("kind")),
        "start_ns": to_ns(start),
        "end_ns": to_ns(end),
        "status_code": code,
        "status_message": message,
        "attributes": key_values(raw.get("attributes")),
        "events": _events(raw.get("events")),
        "resource": _resource(raw.get("resource")) or resource or {},
    }


def group_by_trace(spans: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split normalized spans into traces, in order of first appearance."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for span in spans:
        groups.setdefault(span.get("trace_id"), []).append(span)
    return list(groups.values())


def span_from_attributes(
    attributes: dict[str, Any],
    *,
    trace_id: str,
    span_id: str = "0000000000000001",
    name: str = "span",
    resource: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A normalized span around a bare attribute map (fixtures, tests, hand-made examples)."""
    return {
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": None,
        "name": name,
        "kind": "INTERNAL",
        "start_ns": None,
        "end_ns": None,
        "status_code": "UNSET",
        "status_message": None,
        "attributes": dict(attributes),
        "events": [],
        "resource": resource or {},
    }
