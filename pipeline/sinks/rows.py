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
from itertools import repeat
from typing import Any

import orjson

from schemas.datasets import DATASETS_SCHEMA_VERSION, DEFAULT_FIELD_LIMIT_BYTES, clip_field
from schemas.parquet import PARQUET_SCHEMA_VERSION

Row = dict[str, Any]
Columns = dict[str, list]
"""A dataset's buffer: column name -> values (the sink's ``defaultdict(list)``)."""


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


CUT_MARKER = "$evalstream_cut_json"
"""Key of the one-item dict that stands for a value cut in the scored message (its clipped
JSON text): ``clip_value`` writes it, the row builder turns it back into a cut column."""


def clip_value(value: Any, limit: int) -> Any:
    """``value`` itself when its JSON fits ``limit`` bytes, else a marker holding its JSON
    text cut to ``limit``: so a huge field never makes the scored message too large either."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = orjson.dumps(value, default=str).decode()
    clipped, was_cut = clip_field(text, limit)
    return {CUT_MARKER: clipped} if was_cut else value


def _json(value: Any) -> str | None:
    """JSON text of a value; ``None``, an empty dict and an empty list stay null."""
    if value is None or value == {} or value == []:
        return None
    return orjson.dumps(value, default=str).decode()


def _text_columns(values: Row, limit: int) -> Row:
    """The text columns of a row from their values: ``*_json`` ones as JSON text (a value cut
    in the scored message stays cut), others as they are; each cut to ``limit`` bytes, and the
    cut ones listed in ``truncated_fields``."""
    row: Row = {}
    cut = []
    for name, value in values.items():
        marked = isinstance(value, dict) and len(value) == 1 and CUT_MARKER in value
        text = value[CUT_MARKER] if marked else value
        if name.endswith("_json") and not marked:
            text = _json(value)
        row[name], was_cut = clip_field(text, limit)
        if was_cut or marked:
            cut.append(name)
    row["truncated_fields"] = cut
    return row


def _summary(message: dict[str, Any]) -> Row:
    """The trace-level columns the results and traces datasets share (and their join keys)."""
    return {
        "trace_id": message["trace_id"],
        "trace_version": message.get("trace_version", 1),
        "timestamp": _time(message["timestamp"]),
        "app": message["app"],
        "model": message.get("model"),
        "status": message["status"],
        "latency_ms": message.get("latency_ms"),
        "input_tokens": message.get("input_tokens"),
        "output_tokens": message.get("output_tokens"),
        "cost_usd": message.get("cost_usd"),
        **_source(message),
    }


def _source(message: dict[str, Any]) -> Row:
    source = message["source"]
    return {
        "kafka_topic": source["topic"],
        "kafka_partition": source["partition"],
        "kafka_offset": source["offset"],
    }


def result_columns(r: dict[str, Any]) -> Row:
    """The columns of one evaluation result, shared by the results and sessions datasets."""
    metadata = r.get("metadata")
    return {
        "evaluator": r["evaluator"],
        "evaluator_version": r.get("evaluator_version", "1"),
        "score": r.get("score"),
        "passed": r.get("passed"),
        "label": r.get("label"),
        "rationale": r.get("rationale"),
        "error": r.get("error"),
        "eval_latency_ms": r.get("latency_ms"),
        "metadata_json": orjson.dumps(metadata).decode() if metadata else None,
    }


def result_rows(message: dict[str, Any]) -> Iterator[Row]:
    """The ``results`` rows of one scored trace: one per evaluation result."""
    head = {**_summary(message), "schema_version": PARQUET_SCHEMA_VERSION}
    for r in message["results"]:
        yield {
            **head,
            **result_columns(r),
            "source": r.get("source", "code"),
            "span_id": r.get("span_id"),
        }


def add_result_columns(message: dict[str, Any], columns: Columns) -> int:
    """Append the ``results`` rows of one scored trace to ``columns`` (what ``result_rows``
    yields, column by column, without a dict per row); returns how many rows.

    The trace-level values are computed once and repeated, one per result: the sink's
    per-record cost (issue 20). ``tests/pipeline/sinks/test_rows.py`` checks it against
    ``result_rows``.
    """
    results = message["results"]
    n = len(results)
    if not n:
        return 0
    for name, value in _summary(message).items():
        columns[name].extend(repeat(value, n))
    columns["schema_version"].extend(repeat(PARQUET_SCHEMA_VERSION, n))
    evaluator, version = columns["evaluator"], columns["evaluator_version"]
    score, passed, label = columns["score"], columns["passed"], columns["label"]
    rationale, error, latency = columns["rationale"], columns["error"], columns["eval_latency_ms"]
    metadata_json, source, span_id = columns["metadata_json"], columns["source"], columns["span_id"]
    for r in results:
        get = r.get
        evaluator.append(r["evaluator"])
        version.append(get("evaluator_version", "1"))
        score.append(get("score"))
        passed.append(get("passed"))
        label.append(get("label"))
        rationale.append(get("rationale"))
        error.append(get("error"))
        latency.append(get("latency_ms"))
        metadata = get("metadata")
        metadata_json.append(orjson.dumps(metadata).decode() if metadata else None)
        source.append(get("source", "code"))
        span_id.append(get("span_id"))
    return n


def trace_rows(message: dict[str, Any], limit: int = DEFAULT_FIELD_LIMIT_BYTES) -> Iterator[Row]:
    """The ``traces`` row of one scored trace (none when the message carries no body)."""
    body = message.get("body")
    if body is None:
        return
    tags = message.get("tags") or {}
    row = {
        **_summary(message),
        "session_id": tags.get("session_id"),
        "user_id": tags.get("user_id"),
        "schema_version": DATASETS_SCHEMA_VERSION,
    }
    texts = {
        "error": message.get("error"),
        "inputs_json": body.get("inputs"),
        "outputs_json": body.get("outputs"),
        "context_json": body.get("context"),
        "expectations_json": body.get("expectations"),
        "tags_json": tags,
    }
    yield {**row, **_text_columns(texts, limit)}


def span_rows(message: dict[str, Any], limit: int = DEFAULT_FIELD_LIMIT_BYTES) -> Iterator[Row]:
    """The ``spans`` rows of one scored trace, flattened from its span list.

    A span without an id gets ``span-<index>`` (its place in the list), so rows stay unique.
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
        row = {
            **head,
            "span_id": span.get("span_id") or f"span-{index}",
            "parent_id": span.get("parent_id"),
            "name": span.get("name"),
            "span_type": span.get("span_type"),
            "start_time": _time(span.get("start_time")),
            "end_time": _time(span.get("end_time")),
            "status": span.get("status"),
        }
        texts = {
            "inputs_json": span.get("inputs"),
            "outputs_json": span.get("outputs"),
            "attributes_json": span.get("attributes"),
        }
        yield {**row, **_text_columns(texts, limit)}
