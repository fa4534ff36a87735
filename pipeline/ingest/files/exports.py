"""Files exported from other tools -> traces, so ``evalstream publish`` can backfill.

``detect_format`` names the shape, ``to_traces`` converts a parsed document, ``read_traces``
reads a file (``.json``, ``.jsonl`` or an OTLP protobuf ``.pb``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.files.langfuse import is_langfuse, langfuse_to_trace
from pipeline.ingest.files.mlflow_export import is_mlflow, mlflow_to_trace
from pipeline.ingest.spans.conventions import spans_to_trace
from pipeline.ingest.spans.dicts import group_by_trace, is_span_dict, normalize_span
from pipeline.ingest.spans.otlp import decode_otlp_json, decode_otlp_proto

FORMATS = ("native", "mlflow", "langfuse", "otlp_json", "otel_spans")
EXPECTED = (
    "expected native trace JSON (with trace_id), an MLflow trace export {info, data}, "
    "a Langfuse export {trace, observations}, OTLP/JSON {resourceSpans} or a list of OTel spans"
)


def _detect_one(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if "resourceSpans" in obj or "resource_spans" in obj:
        return "otlp_json"
    if is_mlflow(obj):
        return "mlflow"
    if is_langfuse(obj):
        return "langfuse"
    if is_span_dict(obj):
        return "otel_spans"
    if "trace_id" in obj:
        return "native"
    return None


def detect_format(obj: Any) -> str:
    """One of :data:`FORMATS`; a list counts when all its items have the same format."""
    items = obj if isinstance(obj, list) else [obj]
    if isinstance(obj, dict) and isinstance(obj.get("traces"), list):
        items = obj["traces"]  # MLflow search / batch downloads wrap traces in a list
    found = {_detect_one(item) for item in items}
    if len(found) == 1 and None not in found:
        return found.pop()
    if not items:
        raise IngestError(f"empty document: {EXPECTED}")
    raise IngestError(f"unrecognized trace document: {EXPECTED}")


def _spans_to_traces(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [spans_to_trace(group) for group in group_by_trace(spans)]


_CONVERTERS: dict[str, Callable[[list[Any]], list[dict[str, Any]]]] = {
    "native": lambda items: [dict(item) for item in items],
    "mlflow": lambda items: [mlflow_to_trace(item) for item in items],
    "langfuse": lambda items: [langfuse_to_trace(item) for item in items],
    "otlp_json": lambda items: [t for i in items for t in _spans_to_traces(decode_otlp_json(i))],
    "otel_spans": lambda items: _spans_to_traces([normalize_span(i) for i in items]),
}


def to_traces(obj: Any, *, app: str | None = None) -> list[dict[str, Any]]:
    """Convert a parsed export (one object or a list) into trace dicts.

    ``app`` fills ``tags["app"]`` where the source did not name the application.
    """
    fmt = detect_format(obj)
    items = obj if isinstance(obj, list) else [obj]
    if isinstance(obj, dict) and isinstance(obj.get("traces"), list):
        items = obj["traces"]
    traces = _CONVERTERS[fmt](items)
    if app:
        for trace in traces:
            tags = dict(trace.get("tags") or {})
            tags.setdefault("app", app)
            trace["tags"] = tags
    return traces


def read_traces(path: str | Path, *, app: str | None = None) -> list[dict[str, Any]]:
    """Read a ``.json`` / ``.jsonl`` export or an OTLP protobuf body (``.pb``)."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix in (".pb", ".protobuf", ".bin"):
        traces = _spans_to_traces(decode_otlp_proto(raw))
        return to_traces(traces, app=app) if traces else []
    try:
        if path.suffix in (".jsonl", ".ndjson"):
            docs = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
            return [t for doc in docs for t in to_traces(doc, app=app)]
        return to_traces(orjson.loads(raw), app=app)
    except orjson.JSONDecodeError as exc:
        raise IngestError(f"{path}: not valid JSON ({exc}); {EXPECTED}") from exc
