"""MLflow trace JSON (``Trace.to_json()``: ``{"info": {...}, "data": {"spans": [...]}}``).

Both generations are read: MLflow 3 ``TraceInfoV3`` (``trace_id``, ``request_time``,
``execution_duration_ms``, ``state``, ``trace_metadata``) and MLflow 2 ``TraceInfo``
(``request_id``, ``timestamp_ms``, ``execution_time_ms``, ``status``, ``request_metadata``).
Span attribute values are JSON-encoded by MLflow; ``span_facts`` decodes them.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.spans.conventions import spans_to_trace
from pipeline.ingest.spans.dicts import normalize_span
from pipeline.ingest.spans.values import loads_or_raw, maybe_json, to_float

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")  # protobuf Duration JSON, e.g. "1.250s"


def is_mlflow(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("info"), dict)
        and isinstance(obj.get("data"), dict)
    )


def _latency_ms(info: dict[str, Any]) -> float | None:
    for key in ("execution_duration_ms", "execution_time_ms"):
        if to_float(info.get(key)) is not None:
            return to_float(info[key])
    match = _DURATION.match(str(info.get("execution_duration") or ""))
    return float(match.group(1)) * 1000 if match else None


def _status(info: dict[str, Any]) -> str | None:
    state = str(info.get("state") or info.get("status") or "").upper()
    return "ERROR" if state.endswith("ERROR") else None


def _tags(info: dict[str, Any], metadata: dict[str, Any]) -> dict[str, str]:
    """User tags are kept; MLflow's own ``mlflow.*`` bookkeeping is not (it is not str->str
    friendly and the interesting parts are mapped to trace fields)."""
    tags = {k: str(v) for k, v in (info.get("tags") or {}).items() if not k.startswith("mlflow.")}
    experiment = (info.get("trace_location") or {}).get("mlflow_experiment") or {}
    experiment_id = experiment.get("experiment_id") or info.get("experiment_id")
    if experiment_id:
        tags["mlflow_experiment_id"] = str(experiment_id)
    for key, tag in (("mlflow.trace.session", "session_id"), ("mlflow.trace.user", "user_id")):
        if metadata.get(key):
            tags.setdefault(tag, str(metadata[key]))
    if (info.get("tags") or {}).get("mlflow.traceName"):
        tags["trace_name"] = str(info["tags"]["mlflow.traceName"])
    tags["source"] = "mlflow"
    return tags


def _usage(metadata: dict[str, Any]) -> dict[str, Any] | None:
    usage = loads_or_raw(metadata.get("mlflow.trace.tokenUsage"))
    return usage if isinstance(usage, dict) else None


def mlflow_to_trace(obj: dict[str, Any]) -> dict[str, Any]:
    """Convert one MLflow trace dict into a trace dict."""
    info, data = obj["info"], obj["data"]
    trace_id = info.get("trace_id") or info.get("request_id")
    if not trace_id:
        raise IngestError("expected an MLflow trace with info.trace_id (or info.request_id)")
    metadata = info.get("trace_metadata") or info.get("request_metadata") or {}
    timestamp = info.get("request_time") or info.get("timestamp_ms")
    overrides: dict[str, Any] = {
        "trace_id": trace_id,
        "timestamp": timestamp,
        "latency_ms": _latency_ms(info),
        "status": _status(info),
        "usage": _usage(metadata),
        "tags": _tags(info, metadata),
    }
    spans = [normalize_span(span) for span in data.get("spans") or []]
    if spans:
        trace = spans_to_trace(spans, **overrides)
    else:
        trace = {**overrides, "tags": overrides["tags"]}
        trace = {k: v for k, v in trace.items() if v is not None}
    for field, keys in (
        ("inputs", ("request",)),
        ("outputs", ("response",)),
    ):
        if trace.get(field) is None:
            fallback = data.get(keys[0]) or metadata.get(f"mlflow.trace{field.title()}")
            trace[field] = maybe_json(fallback)
    if trace.get("status") == "ERROR" and not trace.get("error"):
        trace["error"] = "MLflow trace state is ERROR"
    return trace
