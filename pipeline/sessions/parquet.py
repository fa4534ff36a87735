"""The ``sessions`` dataset: a Parquet stage over the committed scored-sessions topic, beside
the results (``<parquet_dir>/../sessions``), files named by scored-sessions offsets like every
other dataset (``pipeline.sinks.dataset``), so a replay replaces instead of duplicating."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from pipeline.settings import Settings
from pipeline.sinks.dataset import SESSIONS, dataset_roots
from pipeline.sinks.parquet import ParquetSink, Target
from pipeline.sinks.session_rows import session_rows
from pipeline.worker.observers import PrometheusObserver, StreamObserver
from pipeline.worker.stages import ParquetStage
from schemas.session import sessions_arrow_schema


class SessionParquetStage(ParquetStage):
    """Rows carry the scored-sessions position they were read at (their replay-safe key)."""

    @classmethod
    def create(  # type: ignore[override]
        cls, settings: Settings, observer: StreamObserver | None = None
    ) -> SessionParquetStage:
        root = dataset_roots(settings.parquet_dir, settings)[SESSIONS]
        sink = ParquetSink(
            root,
            settings.parquet_flush_rows,
            settings.parquet_flush_seconds,
            targets=[Target(root, sessions_arrow_schema(), session_rows)],
            time_field="first_trace_time",
        )
        return cls(sink, observer if observer is not None else PrometheusObserver())

    def add(self, events: Sequence[Any]) -> None:
        for event in events:
            message = event.message
            body = orjson.loads(message.value)
            body["_source"] = {
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
            }
            self.sink.add(body, message.topic, message.partition, message.offset)
            self.pending.append(event)
