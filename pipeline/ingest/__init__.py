"""Ingest: turn spans and exported trace files into evalstream traces.

Public API::

    decode_otlp_json(payload) / decode_otlp_proto(body) -> list[normalized span]
    normalize_span(span_dict)                           -> normalized span (SDK / MLflow dicts)
    spans_to_trace(spans, **overrides)                  -> trace dict (schemas.Trace)
    detect_format(obj) / to_traces(obj) / read_traces(path)
    IngestError
"""

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.files.exports import FORMATS, detect_format, read_traces, to_traces
from pipeline.ingest.spans.conventions import build_trace, spans_to_trace
from pipeline.ingest.spans.dicts import group_by_trace, normalize_span, span_from_attributes
from pipeline.ingest.spans.facts import SpanFacts, interpret
from pipeline.ingest.spans.otlp import decode_otlp_json, decode_otlp_proto

__all__ = [
    "FORMATS",
    "IngestError",
    "SpanFacts",
    "build_trace",
    "decode_otlp_json",
    "decode_otlp_proto",
    "detect_format",
    "group_by_trace",
    "interpret",
    "normalize_span",
    "read_traces",
    "span_from_attributes",
    "spans_to_trace",
    "to_traces",
]
