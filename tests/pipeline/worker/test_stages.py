"""The worker's stages run in-process through pipeline.worker.testing: real decoding, scoring,
encoding, windows and Parquet writes; only the faust edges (sender, acking stream) are
in-memory. What the stages report goes to the observer they are given."""

from __future__ import annotations

import base64
from collections import Counter

import orjson
import pandas as pd
import pytest

from evaluators.config import parse_config
from pipeline import prometheus
from pipeline.evaluate.scorer import Scorer
from pipeline.settings import load_settings
from pipeline.worker.observers import ObserverGroup, StreamObserver
from pipeline.worker.testing import InputMessage, StageHarness

EMAIL = "jane.doe@example.com"


class RecordingObserver(StreamObserver):
    def __init__(self) -> None:
        self.events: Counter[str] = Counter()

    def on_consumed(self, count: int) -> None:
        self.events["consumed"] += count

    def on_dead_letter(self, error_type: str) -> None:
        self.events[f"dead:{error_type}"] += 1

    def on_scored(self, records) -> None:
        self.events["scored"] += len(records)


def trace(i: int, **extra) -> bytes:
    body = {"trace_id": f"t-{i}", "timestamp": "2026-11-25T10:00:00Z", "latency_ms": 10 * i}
    return orjson.dumps(body | extra)


@pytest.fixture
def scorer():
    scorer = Scorer(parse_config({"evaluators": {"latency": {}, "error": {}}}))
    yield scorer
    scorer.close()


def harness(tmp_path, scorer, observer=None, **settings) -> StageHarness:
    config = load_settings(parquet_dir=tmp_path / "pq", **settings)
    return StageHarness(config, scorer, observer or RecordingObserver())


def test_a_batch_becomes_scored_sends_and_dead_letters(tmp_path, scorer):
    h = harness(tmp_path, scorer)
    messages = [InputMessage("traces", i % 2, i, trace(i)) for i in range(4)]
    messages.append(InputMessage("traces", 1, 9, b"{broken", key=b"k"))
    sent = h.score(messages)
    scored = h.sender.to(h.settings.scored_topic)
    (dead,) = h.sender.to(h.settings.dlq_topic)
    assert len(sent) == 5 and sorted(s.key for s in scored) == [b"t-0", b"t-1", b"t-2", b"t-3"]
    assert {s.key: s.source.partition for s in scored}[b"t-3"] == 1  # its source's transaction
    letter = orjson.loads(dead.value)
    assert (letter["source_offset"], base64.b64decode(letter["raw_base64"])) == (9, b"{broken")
    assert h.stage.observer.events == {"consumed": 5, "scored": 4, "dead:invalid_json": 1}
    assert (h.stage.consumed, h.stage.scored, h.stage.dead_lettered) == (5, 4, 1)


def test_windows_go_out_when_emitted(tmp_path, scorer):
    h = harness(tmp_path, scorer)
    h.score([InputMessage("traces", 0, i, trace(i)) for i in range(3)])
    (window,) = h.emit_windows()
    assert window.topic == h.settings.metrics_topic
    assert orjson.loads(window.value)["trace_count"] == 3
    assert h.emit_windows() == []  # drained


def test_parquet_rows_and_durable_offsets(tmp_path, scorer):
    h = harness(tmp_path, scorer)
    h.score([InputMessage("traces", 0, i, trace(i)) for i in range(3)])
    durable = h.write_parquet()
    rows = pd.read_parquet(tmp_path / "pq")
    assert len(rows) == 6 and set(rows["evaluator"]) == {"latency", "error"}
    assert list(durable.values()) == [3] and len(h.stream.acked) == 3


def test_create_wires_redaction_from_settings(tmp_path, scorer):
    h = harness(tmp_path, scorer, redact="email")
    h.score([InputMessage("traces", 0, 0, trace(0, status="ERROR", error=f"to {EMAIL}"))])
    h.write_parquet()
    written = b"".join(s.value for s in h.sender.sent).decode()
    assert EMAIL not in written and "[REDACTED:email]" in written
    assert EMAIL not in pd.read_parquet(tmp_path / "pq").astype(str).to_csv()


def test_stream_code_reports_only_to_its_observer(tmp_path, scorer):
    scored_total = prometheus.TRACES_SCORED._value.get()
    first, second = RecordingObserver(), RecordingObserver()
    h = harness(tmp_path, scorer, ObserverGroup([first, second]))
    h.score([InputMessage("traces", 0, i, trace(i)) for i in range(2)])
    assert first.events == second.events == {"consumed": 2, "scored": 2}
    assert prometheus.TRACES_SCORED._value.get() == scored_total  # Prometheus not called


def committed_counts(h: StageHarness) -> tuple[Counter, int]:
    """Scored messages per trace id, and traces counted by the window records, committed."""
    scored = Counter(s.key for s in h.committed(h.settings.scored_topic))
    metrics = h.committed(h.settings.metrics_topic)
    return scored, sum(orjson.loads(s.value)["trace_count"] for s in metrics)


def test_results_are_exact_after_a_crash_and_resume(tmp_path, scorer):
    h = harness(tmp_path, scorer)
    h.produce([trace(i) for i in range(6)], partition=0)
    h.produce([trace(i) for i in range(6, 10)], partition=1)
    h.poll(max_messages=4)  # partition 0, offsets 0-3
    h.write_parquet()  # commits them; their Parquet file is written, its offsets not committed
    h.poll()  # the other 6: scored, sent in open transactions, windows collected
    h.crash()  # all of that is lost, and the Parquet file past the committed offset removed
    assert len(h.committed(h.settings.scored_topic)) == 4 and not list(tmp_path.rglob("*.parquet"))
    resent = h.poll()  # resumes from the committed offsets: exactly the 6 not committed
    assert sorted(s.key for s in resent if s.topic == h.settings.scored_topic) == [
        f"t-{i}".encode() for i in (4, 5, 6, 7, 8, 9)
    ]
    h.write_parquet()
    scored, window_traces = committed_counts(h)
    assert scored == {f"t-{i}".encode(): 1 for i in range(10)}  # each trace once
    assert window_traces == 10  # windows exact
    rows = pd.read_parquet(tmp_path / "pq")
    assert Counter(rows["trace_id"]) == {f"t-{i}": 2 for i in range(10)}  # latency + error
    assert h.crashes == 1


def test_at_least_once_replays_what_a_crash_did_not_commit(tmp_path, scorer):
    h = harness(tmp_path, scorer, processing_guarantee="at_least_once")
    h.produce([trace(i) for i in range(3)])
    h.poll(max_messages=1)
    h.commit()
    h.poll()
    h.crash()
    h.poll()
    h.commit()
    scored, window_traces = committed_counts(h)
    assert scored == {b"t-0": 1, b"t-1": 2, b"t-2": 2}  # sent before the crash, and again
    assert window_traces == 3  # window aggregates go out only at commit: lost, then exact


def test_rows_from_memory_are_the_rows_read_back(tmp_path, scorer):
    """``ParquetStage.add_rows`` (EVALSTREAM_PARQUET_FROM=memory) writes the same files, rows
    and durable offsets as ``add`` of the same scored records read from the topic."""
    import asyncio

    from faust.types import TP

    from pipeline.worker.stages import ParquetStage

    h = harness(tmp_path, scorer)
    h.score([InputMessage("traces", 0, i, trace(i)) for i in range(3)])
    h.write_parquet()  # the topic path, into tmp_path / "pq"
    scored = h.sender.to(h.settings.scored_topic)
    settings = load_settings(parquet_dir=tmp_path / "memory")
    stage = ParquetStage.create(settings)
    topic = h.settings.scored_topic
    rows = [(0, n, orjson.loads(sent.value)) for n, sent in enumerate(scored)]
    stage.add_rows(topic, lambda p: TP(topic, p), rows)
    durable = asyncio.run(stage.flush(h.stream))
    assert durable == {TP(topic, 0): 3}
    memory = pd.read_parquet(tmp_path / "memory").sort_values(["trace_id", "evaluator"])
    read_back = pd.read_parquet(tmp_path / "pq").sort_values(["trace_id", "evaluator"])
    pd.testing.assert_frame_equal(memory.reset_index(drop=True), read_back.reset_index(drop=True))
    names = sorted(p.name for p in (tmp_path / "memory").rglob("*.parquet"))
    assert names == sorted(p.name for p in (tmp_path / "pq").rglob("*.parquet"))
