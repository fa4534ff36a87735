"""Columns of the ``traces`` and ``spans`` Parquet datasets stored beside the results.

The results dataset alone says *that* a trace failed; these two keep *what* it said (inputs,
outputs, retrieved context, the span tree) after Kafka retention has dropped the input topic,
so a failure can be traced to its cause. Both are plain Parquet, Hive-partitioned like the
results (``date=YYYY-MM-DD/hour=HH`` from the trace timestamp, so a trace's spans sit in the
same partition as the trace), readable by pandas and DuckDB without our code.

Free-form JSON values are stored as JSON text (``*_json`` columns) rather than as nested Parquet
types: their shape differs from trace to trace and a nested schema would split the dataset into
incompatible files. A value longer than the field limit is cut and its column named in
``truncated_fields``; a cut value is no longer valid JSON, so readers must fall back to text.

The row models below are the contract (typed, frozen, exported as JSON Schema); the Arrow
schemas are derived from them so the two cannot drift.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Union, get_args, get_origin

from pydantic import Field

from schemas._base import Message

if TYPE_CHECKING:
    import pyarrow as pa

DATASETS_SCHEMA_VERSION = 1

DEFAULT_FIELD_LIMIT_BYTES = 64 * 1024
"""Default cut-off of one JSON/text field, in UTF-8 bytes (the worker's limit is a setting)."""

INT32 = "int32"
"""Marker for integer columns written as 32-bit (partition numbers, versions of the contract)."""


class _Row(Message):
    """A row of one of the datasets; ``schema_version`` is the dataset contract's version."""

    schema_version: Annotated[int, INT32] = DATASETS_SCHEMA_VERSION


class TraceRow(_Row):
    """One row per trace and trace version (a re-sent trace gets a higher ``trace_version``)."""

    trace_id: str
    trace_version: int = Field(1, ge=1)
    timestamp: datetime
    app: str
    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    status: str
    error: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    inputs_json: str | None = None
    outputs_json: str | None = None
    context_json: str | None = None
    expectations_json: str | None = None
    tags_json: str | None = None
    truncated_fields: list[str] = Field(default_factory=list)
    kafka_topic: str
    kafka_partition: Annotated[int, INT32]
    kafka_offset: int


class SpanRow(_Row):
    """One row per span of a stored trace version; ``trace_timestamp`` places it in a partition."""

    trace_id: str
    trace_version: int = Field(1, ge=1)
    trace_timestamp: datetime
    span_id: str
    parent_id: str | None = None
    name: str | None = None
    span_type: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    inputs_json: str | None = None
    outputs_json: str | None = None
    attributes_json: str | None = None
    truncated_fields: list[str] = Field(default_factory=list)
    kafka_topic: str
    kafka_partition: Annotated[int, INT32]
    kafka_offset: int


Column = tuple[str, str, bool]
"""(name, Arrow type name, nullable), in the order a file holds them."""


def _arrow_type_name(annotation: object, metadata: list[object]) -> tuple[str, bool]:
    nullable = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable, annotation = len(args) < len(get_args(annotation)), args[0]
    if get_origin(annotation) is list:
        return "list<string>", nullable
    if annotation is int:
        return (INT32 if INT32 in metadata else "int64"), nullable
    names = {str: "string", float: "float64", bool: "bool", datetime: "timestamp[ms, tz=UTC]"}
    return names[annotation], nullable


def columns(model: type[_Row]) -> tuple[Column, ...]:
    """The column contract of a dataset, derived from its row model."""
    out = []
    for name, field in model.model_fields.items():
        kind, nullable = _arrow_type_name(field.annotation, field.metadata)
        out.append((name, kind, nullable))
    # schema_version last, as in the results dataset; the rest in declaration order.
    return (*out[1:], out[0])


TRACES_COLUMNS = columns(TraceRow)
SPANS_COLUMNS = columns(SpanRow)


def _arrow(cols: tuple[Column, ...]) -> pa.Schema:
    import pyarrow as pa

    kinds = {
        "string": pa.string(),
        "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"),
        "float64": pa.float64(),
        "int64": pa.int64(),
        INT32: pa.int32(),
        "bool": pa.bool_(),
        "list<string>": pa.list_(pa.string()),
    }
    return pa.schema(
        [pa.field(name, kinds[kind], nullable=null) for name, kind, null in cols],
        metadata={b"evalstream.schema_version": str(DATASETS_SCHEMA_VERSION).encode()},
    )


def traces_arrow_schema() -> pa.Schema:
    """The pyarrow schema of a ``traces`` data file (partition columns are directory names)."""
    return _arrow(TRACES_COLUMNS)


def spans_arrow_schema() -> pa.Schema:
    """The pyarrow schema of a ``spans`` data file."""
    return _arrow(SPANS_COLUMNS)


def clip_field(
    text: str | None, limit_bytes: int = DEFAULT_FIELD_LIMIT_BYTES
) -> tuple[str | None, bool]:
    """``text`` cut to at most ``limit_bytes`` UTF-8 bytes (never inside a character).

    Returns the text and whether it was cut, so the writer can name the column in
    ``truncated_fields``: one huge trace must never break a file or a message.
    """
    if text is None:
        return None, False
    if len(text) * 4 <= limit_bytes:  # a character is at most 4 UTF-8 bytes: no encode
        return text, False
    raw = text.encode("utf-8")
    if len(raw) <= limit_bytes:
        return text, False
    return raw[:limit_bytes].decode("utf-8", "ignore"), True
