"""Rows of the ``sessions`` Parquet dataset, from one scored-sessions message (already
redacted, see ``pipeline.sessions.scoring``): one row per session evaluator result. Column
contract: ``schemas.session.SessionRow``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pipeline.sinks.rows import Row, result_columns
from schemas.datasets import DATASETS_SCHEMA_VERSION


def session_rows(message: dict[str, Any]) -> Iterator[Row]:
    head = {
        "session_id": message["session_id"],
        "session_version": message.get("session_version", 1),
        "app": message["app"],
        "closed_by": message["closed_by"],
        "first_trace_time": datetime.fromisoformat(message["first_trace_time"]),
        "last_trace_time": datetime.fromisoformat(message["last_trace_time"]),
        "turn_count": message["turn_count"],
        "trace_ids": list(message.get("trace_ids") or []),
        "kafka_topic": message["_source"]["topic"],
        "kafka_partition": message["_source"]["partition"],
        "kafka_offset": message["_source"]["offset"],
        "schema_version": DATASETS_SCHEMA_VERSION,
    }
    for r in message["results"]:
        yield {**head, **result_columns(r)}
