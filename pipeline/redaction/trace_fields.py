"""Which fields of a trace (and of its spans) are redacted: all but a fixed list kept.

Identifiers, times, model names, token usage and numbers are kept; every other field is
redacted, including unknown extra fields (traces are ``extra="allow"``), so a new field
cannot leak PII by default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Top-level trace fields and span fields that are never redacted.
TRACE_FIELDS_KEPT = frozenset(
    {
        "schema_version",
        "trace_id",
        "timestamp",
        "status",
        "latency_ms",
        "model",
        "usage",
        "cost_usd",
    }
)
SPAN_FIELDS_KEPT = frozenset(
    {"span_id", "parent_id", "trace_id", "name", "span_type", "start_time", "end_time", "status"}
)


def _kept(key: str, value: Any, kept: frozenset[str]) -> bool:
    return key in kept or value is None or isinstance(value, int | float)


def redact_trace_fields(trace: Mapping[str, Any], redact: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of ``trace`` with ``redact`` applied to every value not kept (span by span
    for ``spans``); the input is not mutated."""
    out: dict[str, Any] = {}
    for key, value in trace.items():
        if _kept(key, value, TRACE_FIELDS_KEPT):
            out[key] = value
        elif key == "spans" and isinstance(value, list):
            out[key] = [_redact_span(span, redact) for span in value]
        else:
            out[key] = redact(value)
    return out


def _redact_span(span: Any, redact: Callable[[Any], Any]) -> Any:
    if not isinstance(span, Mapping):
        return redact(span)
    return {
        key: value if _kept(key, value, SPAN_FIELDS_KEPT) else redact(value)
        for key, value in span.items()
    }
