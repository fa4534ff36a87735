"""A Parquet write that fails (full or read-only disk) pauses and retries; nothing is acked
until the rows are written, and nothing is lost."""

from __future__ import annotations

import asyncio

import orjson
import pandas as pd

from pipeline import prometheus
from pipeline.settings import load_settings
from pipeline.worker.stages import ParquetStage
from pipeline.worker.testing import AckingStream, Event, InputMessage
from schemas import EvaluationResult, ScoredTrace, SourceOffset


def event(offset: int) -> Event:
    message = ScoredTrace(
        trace_id=f"t{offset}",
        timestamp="2026-11-25T10:00:00Z",
        app="a",
        status="OK",
        results=[EvaluationResult(evaluator="e", score=1.0)],
        source=SourceOffset(topic="traces", partition=0, offset=offset),
        scored_at="2026-11-25T10:00:01Z",
    )
    value = orjson.dumps(message.model_dump(mode="json"))
    return Event(InputMessage("scored", 0, offset, value))


def test_failed_write_is_retried_and_acks_wait(tmp_path):
    root = tmp_path / "pq"
    root.write_text("a file where the dataset directory should be")  # every write fails
    stage = ParquetStage.create(load_settings(parquet_dir=root))
    stream = AckingStream()
    stage.add([event(0), event(1)])
    errors = prometheus.SINK_ERRORS.labels("parquet")
    before = errors._value.get()

    async def scenario() -> dict:
        flushing = asyncio.ensure_future(stage.flush(stream))
        await asyncio.sleep(1.2)
        assert not flushing.done() and stream.acked == []  # paused, nothing acked
        root.unlink()  # the disk is usable again
        return await asyncio.wait_for(flushing, timeout=10)

    durable = asyncio.run(scenario())
    assert errors._value.get() - before >= 2
    assert [m.offset for m in stream.acked] == [0, 1]
    assert list(durable.values()) == [2]
    assert sorted(pd.read_parquet(root)["trace_id"]) == ["t0", "t1"]
    assert not list(root.rglob("*.tmp"))
