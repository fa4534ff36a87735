"""TraceProducer against a real broker: an outage, every queue-full policy, @traced."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka_helpers import consume_all

from pipeline.client import ProducerClosedError, QueueFullError, TraceProducer, traced
from pipeline.kafka.broker import free_port, start_broker, stop_broker
from pipeline.sample_traces import sample_traces
from pipeline.settings import load_settings
from schemas import TraceValidationError

FAST_FAIL = {"bootstrap_timeout_ms": 300, "reconnect_backoff_max_ms": 200}


def _settings(bootstrap: str):
    return load_settings(bootstrap_servers=bootstrap)


def _dead_producer(tmp_path: Path, policy: str, **kwargs) -> TraceProducer:
    """A producer whose broker never answers: its queue fills and the policy applies."""
    return TraceProducer(
        _settings(f"127.0.0.1:{free_port()}"),
        topic="never",
        queue_full_policy=policy,
        spill_dir=tmp_path / "spill",
        kafka_config=FAST_FAIL,
        **kwargs,
    )


def _timed(producer: TraceProducer, traces: list[dict]) -> list[float]:
    durations = []
    for trace in traces:
        start = time.perf_counter()
        producer.log_trace(trace)
        durations.append(time.perf_counter() - start)
    return durations


def _p99_ms(durations: list[float]) -> float:
    return sorted(durations)[int(len(durations) * 0.99)] * 1000


def _create_topic(bootstrap: str, name: str, partitions: int = 4) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({name: {"num_partitions": partitions, "replication_factor": 1}})
        admin.wait_for_topics([name], timeout_ms=15000)
    finally:
        admin.close()


def _wait_delivered(producer: TraceProducer, total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = producer.stats()
        if stats.sent + stats.replayed >= total and not stats.spill_files:
            return
        time.sleep(0.2)
    raise AssertionError(f"not all {total} delivered within {timeout}s: {producer.stats()}")


def test_broker_outage_delivers_every_trace_exactly_once(tmp_path: Path) -> None:
    """The issue's "Done means": 10,000 traces, broker down 10 s, all arrive exactly once."""
    total, outage = 10_000, 10.0
    handle = start_broker(port=free_port(), data_dir=tmp_path / "kafka")
    try:
        _create_topic(handle.bootstrap, "outage-traces")
        traces = list(sample_traces(total, seed=11))
        producer = TraceProducer(
            _settings(handle.bootstrap), topic="outage-traces", spill_dir=tmp_path / "spill"
        )
        durations: list[float] = []

        def app() -> None:  # ~700 traces/s, spread over ~14 s
            for start in range(0, total, 70):
                durations.extend(_timed(producer, traces[start : start + 70]))
                time.sleep(0.1)

        thread = threading.Thread(target=app)
        thread.start()
        time.sleep(1.5)
        stop_broker(handle)
        time.sleep(outage)
        handle = start_broker(port=handle.port, data_dir=handle.data_dir)
        thread.join()
        _wait_delivered(producer, total, timeout=60)
        stats = producer.stats()
        producer.close()
        records = consume_all(handle.bootstrap, "outage-traces", timeout=60)
    finally:
        stop_broker(handle)
    ids = Counter(json.loads(r.value)["trace_id"] for r in records)
    report = {
        "p99_ms": round(_p99_ms(durations), 3),
        "max_ms": round(max(durations) * 1000, 3),
        "calls_over_5ms": sum(d > 0.005 for d in durations),
        "stats": stats,
        "messages": len(records),
    }
    print(f"\noutage result: {report}")
    assert stats.spilled > 0 and stats.replayed == stats.spilled, stats
    assert len(ids) == total, report
    assert len(records) == total, f"duplicates: {[k for k, n in ids.items() if n > 1][:5]}"
    assert all(r.key.decode() == json.loads(r.value)["trace_id"] for r in records[:100])
    assert report["p99_ms"] < 5, report
    # log_trace never waits on I/O or on Kafka, but a single call can still wait for a CPU
    # (brokers and workers share 2 cores in CI), the GIL (5 ms switch interval) or a GC pass:
    # 211 ms was seen at load 17 on 2 cores. A call that waited on Kafka would wait for the
    # client's max_block_ms (2 s) instead, so the bound sits well below that.
    assert report["max_ms"] < 1_000, report


def test_block_policy_waits_its_limit_then_raises(tmp_path: Path) -> None:
    producer = _dead_producer(tmp_path, "block", max_queue_size=5, block_timeout=0.3)
    try:
        for trace in sample_traces(5):
            producer.log_trace(trace)
        start = time.monotonic()
        with pytest.raises(QueueFullError, match=r"waited 0\.3s"):
            producer.log_trace(next(sample_traces(1, seed=99)))
        assert 0.25 < time.monotonic() - start < 2
        assert producer.stats().queued == 5
    finally:
        producer.close(timeout=0.1)
    assert producer.stats().spilled == 5  # nothing is lost at close: the queue is spilled


def test_drop_policy_counts_and_never_blocks(tmp_path: Path, caplog) -> None:
    producer = _dead_producer(tmp_path, "drop", max_queue_size=10, drop_log_every=50)
    try:
        durations = _timed(producer, list(sample_traces(200)))
        stats = producer.stats()
        assert (stats.queued, stats.dropped, stats.spilled) == (10, 190, 0)
        assert _p99_ms(durations) < 5 and max(durations) < 0.05
        producer.flush(timeout=0.2)  # the maintenance thread logs (the caller never does)
        warnings = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert 1 <= len(warnings) <= 5  # the first drop and every 50th, not every one
    finally:
        producer.close(timeout=0.1)
    assert producer.stats().dropped == 200
    assert not (tmp_path / "spill").exists()


def test_spill_policy_writes_file_and_next_start_replays_it(
    tmp_path: Path, kafka_bootstrap: str, new_topic
) -> None:
    topic = new_topic(partitions=2)
    traces = list(sample_traces(100, seed=5))
    producer = _dead_producer(tmp_path, "spill", max_queue_size=10)
    durations = _timed(producer, traces)
    assert producer.stats().spilled == 90 and _p99_ms(durations) < 5
    producer.close(timeout=0.1)
    files = sorted((tmp_path / "spill").glob("spill-*.jsonl"))
    lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert sorted(t["trace_id"] for t in lines) == sorted(t["trace_id"] for t in traces)

    again = TraceProducer(
        _settings(kafka_bootstrap), topic=topic, spill_dir=tmp_path / "spill", replay_interval=0.2
    )
    try:
        _wait_delivered(again, 100, timeout=30)
        assert again.stats().replayed == 100
    finally:
        again.close()
    records = consume_all(kafka_bootstrap, topic)
    assert sorted(json.loads(r.value)["trace_id"] for r in records) == sorted(
        t["trace_id"] for t in traces
    )
    assert not list((tmp_path / "spill").glob("spill-*"))


def test_invalid_trace_and_closed_producer_raise(tmp_path: Path) -> None:
    producer = _dead_producer(tmp_path, "drop")
    with pytest.raises(TraceValidationError, match="trace_id"):
        producer.log_trace({"inputs": "no id"})
    producer.close(timeout=0)
    with pytest.raises(ProducerClosedError):
        producer.log_trace({"trace_id": "t-1"})


def test_traced_records_sync_async_errors_and_blocks(
    tmp_path: Path, kafka_bootstrap: str, new_topic
) -> None:
    topic = new_topic()
    producer = TraceProducer(_settings(kafka_bootstrap), topic=topic, spill_dir=tmp_path)

    @traced(producer=producer, tags={"app": "demo"})
    def answer(question: str, style: str = "short") -> str:
        return f"42 ({style})"

    @traced(producer=producer)
    async def aanswer(question: str) -> dict:
        await asyncio.sleep(0.01)
        return {"answer": question.upper()}

    @traced(producer=producer, name="failing")
    def fail(x: int) -> None:
        raise ValueError("bad input")

    assert answer("what?") == "42 (short)"
    assert asyncio.run(aanswer("hi")) == {"answer": "HI"}
    with pytest.raises(ValueError, match="bad input"):
        fail(1)
    with traced("retrieve", producer=producer, inputs={"q": "docs"}) as call:
        call.outputs = ["doc one"]
        call.model = "gpt-test"
    assert producer.flush(30)
    producer.close()
    traces = {
        t["tags"]["function"]: t
        for t in (json.loads(r.value) for r in consume_all(kafka_bootstrap, topic))
    }
    sync = traces[f"{__name__}.test_traced_records_sync_async_errors_and_blocks.<locals>.answer"]
    assert sync["inputs"] == {"question": "what?", "style": "short"}
    assert sync["outputs"] == "42 (short)" and sync["status"] == "OK"
    assert sync["tags"]["app"] == "demo" and sync["latency_ms"] >= 0
    async_trace = next(t for name, t in traces.items() if name.endswith("aanswer"))
    assert async_trace["outputs"] == {"answer": "HI"} and async_trace["latency_ms"] >= 10
    assert traces["failing"]["status"] == "ERROR"
    assert traces["failing"]["error"] == "ValueError: bad input"
    assert traces["retrieve"]["inputs"] == {"q": "docs"}
    assert traces["retrieve"]["model"] == "gpt-test"
