"""Rows of the three Parquet datasets, built from one scored-trace message.

The message is the scored-topic value as :class:`pipeline.sinks.encode.RecordEncoder` wrote it
(already redacted; see ``schemas.ScoredTrace``). It gives one ``results`` row per evaluation
result, one ``traces`` row per trace version and one ``spans`` row per span of its ``body``.
Column contracts: ``schemas.parquet`` (results) and ``schemas.datasets`` (traces, spans).

Free-form values become JSON text; every ``*_json`` column and the trace's ``error`` are cut
to ``limit`` UTF-8 bytes, the cut columns named in ``truncated_fields``, so one huge trace never
breaks a file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson

from schemas.datasets import DATASETS_SCHEMA_VERSION, DEFAULT_FIELD_LIMIT_BYTES, clip_field
from schemas.parquet import PARQUET_SCHEMA_VERSION

Row = dict[str, Any]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _json(value: Any) -> str | None:
    """JSON text of a value; ``None``, an empty dict and an empty list stay null."""
    if value is None or value == {} or value == []:
        return None
    return orjson.dumps(value, default=str).decode()


def _clipped(row: Row, names: tuple[str, ...], limit: int) -> Row:
    cut = []
    for name in names:
        row[name], was_cut = clip_field(row[name], limit)
        if was_cut:
            cut.append(name)
    row["truncated_fields"] = cut
    return row


def _source(message: dict[str, Any]) -> Row:
    source = message["source"]
    return {
        "kafka_topic": source["topic"],
        "kafka_partition": source["partition"],
        "kafka_offset": source["offset"],
    }


def result_rows(message: dict[str, Any]) -> Iterator[Row]:
    """The ``results`` rows of one scored trace: one per evaluation result."""
    head = {
        "trace_id": message["trace_id"],
        "timestamp": _time(message["timestamp"]),
        "app": message["app"],
        "model": message.get("model"),
        "status": message["status"],
        "latency_ms": message.get("latency_ms"),
        "input_tokens": message.get("input_tokens"),
        "output_tokens": message.get("output_tokens"),
        "cost_usd": message.get("cost_usd"),
        **_source(message),
        "schema_version": PARQUET_SCHEMA_VERSION,
        "trace_version": message.get("trace_version", 1),
    }
    for r in message["results"]:
        metadata = r.get("metadata")
        yield {
            **head,
            "evaluator": r["evaluator"],
            "evaluator_version": r.get("evaluator_version", "1"),
            "score": r.get("score"),
            "passed": r.get("passed"),
            "label": r.get("label"),
            "rationale": r.get("rationale"),
            "error": r.get("error"),
            "eval_latency_ms": r.get("latency_ms"),
            "source": r.get("source", "code"),
            "span_id": r.get("span_id"),
            "metadata_json": orjson.dumps(metadata).decode() if metadata else None,
        }


TRACE_CLIPPED = ("error", "inputs_json", "outputs_json", "context_json", "expectations_json")
TRACE_CLIPPED += ("tags_json",)
SPAN_CLIPPED = ("inputs_json", "outputs_json", "attributes_json")


def trace_rows(message: dict[str, Any], limit: int = DEFAULT_FIELD_LIMIT_BYTES) -> Iterator[Row]:
    """The ``traces`` row of one scored trace (none when the message carries no body)."""
    body = message.get("body")
    if body is None:
        return
    tags = message.get("tags") or {}
    row = {
        "trace_id": message["trace_id"],
        "trace_version": message.get("trace_version", 1),
        "timestamp": _time(message["timestamp"]),
        "app": message["app"],
        "session_id": tags.get("session_id"),
        "user_id": tags.get("user_id"),
        "model": message.get("model"),
        "status": message["status"],
        "error": message.get("error"),
        "latency_ms": message.get("latency_ms"),
        "input_tokens": message.get("input_tokens"),
        "output_tokens": message.get("output_tokens"),
        "cost_usd": message.get("cost_usd"),
        "inputs_json": _json(body.get("inputs")),
        "outputs_json": _json(body.get("outputs")),
        "context_json": _json(body.get("context")),
        "expectations_json": _json(body.get("expectations")),
        "tags_json": _json(tags),
        **_source(message),
        "schema_version": DATASETS_SCHEMA_VERSION,
    }
    yield _clipped(row, TRACE_CLIPPED, limit)


SPAN_COLUMNS_FROM_BODY = ("span_id", "parent_id", "name", "span_type", "start_time", "end_time")
SPAN_COLUMNS_FROM_BODY += ("status", "inputs", "outputs", "attributes")


def span_rows(message: dict[str, Any], limit: int = DEFAULT_FIELD_LIMIT_BYTES) -> Iterator[Row]:
    """The ``spans`` rows of one scored trace, flattened from its span list.

    A span without an id gets ``span-<index>`` (its place in the list), so rows stay unique;
    fields the span schema does not name (an app's own) are kept in ``attributes_json``.
    """
    body = message.get("body")
    if body is None:
        return
    head = {
        "trace_id": message["trace_id"],
        "trace_version": message.get("trace_version", 1),
        "trace_timestamp": _time(message["timestamp"]),
        **_source(message),
        "schema_version": DATASETS_SCHEMA_VERSION,
    }
    for index, span in enumerate(body.get("spans") or []):
        extra = {k: v for k, v in span.items() if k not in SPAN_COLUMNS_FROM_BODY}
        attributes = {**extra, **(span.get("attributes") or {})}
        row = {
            **head,
            "span_id": span.get("span_id") or f"span-{index}",
            "parent_id": span.get("parent_id"),
            "name": span.get("name"),
            "span_type": span.get("span_type"),
            "start_time": _time(span.get("start_time")),
            "end_time": _time(span.get("end_time")),
            "status": span.get("status"),
            "inputs_json": _json(span.get("inputs")),
            "outputs_json": _json(span.get("outputs")),
            "attributes_json": _json(attributes),
        }
        yield _clipped(row, SPAN_CLIPPED, limit)
