"""Columns of the Parquet dataset: one row per trace x evaluation result.

Kept as plain data so downstream tools can read the contract without pyarrow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

PARQUET_SCHEMA_VERSION = 1

# (name, arrow type name, nullable) in the order they are written.
PARQUET_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("trace_id", "string", False),
    ("timestamp", "timestamp[ms, tz=UTC]", False),
    ("app", "string", False),
    ("model", "string", True),
    ("status", "string", False),
    ("latency_ms", "float64", True),
    ("input_tokens", "int64", True),
    ("output_tokens", "int64", True),
    ("cost_usd", "float64", True),
    ("evaluator", "string", False),
    ("evaluator_version", "string", False),
    ("score", "float64", True),
    ("passed", "bool", True),
    ("label", "string", True),
    ("rationale", "string", True),
    ("error", "string", True),
    ("eval_latency_ms", "float64", True),
    ("source", "string", False),
    ("span_id", "string", True),
    ("metadata_json", "string", True),
    ("kafka_topic", "string", False),
    ("kafka_partition", "int32", False),
    ("kafka_offset", "int64", False),
    ("schema_version", "int32", False),
    # Added after schema_version 1 files existed, so it is last; 1 unless the trace was re-sent
    # (re-scored) with a higher version. Readers of older files: treat a missing column as 1.
    ("trace_version", "int64", False),
)

PARTITION_COLUMNS = ("date", "hour")
"""Hive partition keys (``date=YYYY-MM-DD/hour=HH``), taken from the trace timestamp in UTC."""


def arrow_schema() -> pa.Schema:
    """The pyarrow schema of a data file (partition columns live in the directory names)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "timestamp[ms, tz=UTC]": pa.timestamp("ms", tz="UTC"),
        "float64": pa.float64(),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "bool": pa.bool_(),
    }
    return pa.schema(
        [pa.field(name, types[kind], nullable=null) for name, kind, null in PARQUET_COLUMNS],
        metadata={b"evalstream.schema_version": str(PARQUET_SCHEMA_VERSION).encode()},
    )
