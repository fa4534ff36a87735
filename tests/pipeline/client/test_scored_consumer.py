"""ScoredTraceConsumer reading what a real worker wrote: typed access, filters, commits."""

from __future__ import annotations

import uuid

import pytest
from kafka import KafkaAdminClient
from kafka_helpers import produce
from worker_process import run_worker, worker_env

from pipeline.client import ScoredTraceConsumer, TraceProducer
from pipeline.sample_traces import sample_traces
from pipeline.settings import load_settings
from schemas import ScoredTrace

COUNT = 60


@pytest.fixture(scope="module")
def scored_topic(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Traces logged with TraceProducer and scored by a real worker."""
    topic = f"test-sdk-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics({topic: {"num_partitions": 2, "replication_factor": 1}})
    admin.close()
    tmp = tmp_path_factory.mktemp("scored")
    settings = load_settings(bootstrap_servers=kafka_bootstrap)
    with TraceProducer(settings, topic=topic, spill_dir=tmp / "spill") as producer:
        for trace in sample_traces(COUNT, seed=3):
            producer.log_trace(trace)
        assert producer.flush(30)
    env = worker_env(kafka_bootstrap, topic, tmp / "parquet", EVALSTREAM_ASSEMBLER_ENABLED="false")
    run_worker(env, idle=2.0)
    return f"{topic}.scored"


def _consumer(bootstrap: str, topic: str, group: str, **kwargs) -> ScoredTraceConsumer:
    return ScoredTraceConsumer(
        load_settings(bootstrap_servers=bootstrap),
        topic=topic,
        group_id=group,
        idle_timeout=kwargs.pop("idle_timeout", 1.5),
        **kwargs,
    )


def test_typed_iteration_and_commit(kafka_bootstrap: str, scored_topic: str):
    group = f"g-{uuid.uuid4().hex[:6]}"
    with _consumer(kafka_bootstrap, scored_topic, group) as consumer:
        scored = list(consumer)
        stats = consumer.stats()
    assert all(isinstance(s, ScoredTrace) for s in scored)
    assert len({s.trace_id for s in scored}) == COUNT == len(scored)
    assert all(s.results and s.source.topic == scored_topic[: -len(".scored")] for s in scored)
    assert (stats.consumed, stats.yielded, stats.invalid) == (COUNT, COUNT, 0)
    with _consumer(kafka_bootstrap, scored_topic, group) as again:
        assert list(again) == []


def test_filters_by_evaluator_and_failure(kafka_bootstrap: str, scored_topic: str):
    with _consumer(kafka_bootstrap, scored_topic, f"g-{uuid.uuid4().hex[:6]}") as consumer:
        everything = list(consumer)
    failing = {s.trace_id for s in everything if any(r.passed is False for r in s.results)}
    assert 0 < len(failing) < COUNT

    group = f"g-{uuid.uuid4().hex[:6]}"
    with _consumer(kafka_bootstrap, scored_topic, group, failed_only=True) as consumer:
        failed = list(consumer)
        assert consumer.stats().filtered == COUNT - len(failing)
    assert {s.trace_id for s in failed} == failing
    assert all(r.passed is False for s in failed for r in s.results)

    group = f"g-{uuid.uuid4().hex[:6]}"
    with _consumer(kafka_bootstrap, scored_topic, group, evaluators="latency") as consumer:
        latency = list(consumer)
    assert len(latency) == COUNT
    assert {r.evaluator for s in latency for r in s.results} == {"latency"}


def test_failing_body_leaves_its_message_for_the_group(kafka_bootstrap: str, scored_topic: str):
    group = f"g-{uuid.uuid4().hex[:6]}"
    done: list[str] = []
    with (
        pytest.raises(RuntimeError, match="downstream down"),
        _consumer(kafka_bootstrap, scored_topic, group) as consumer,
    ):
        for scored in consumer:
            if len(done) == 10:
                failed_id = scored.trace_id
                raise RuntimeError("downstream down")
            done.append(scored.trace_id)
    with _consumer(kafka_bootstrap, scored_topic, group) as again:
        rest = [s.trace_id for s in again]
    assert failed_id in rest
    assert not set(done) & set(rest)
    assert sorted(done + rest) == sorted(set(done + rest)) and len(done + rest) == COUNT


def test_batches_and_explicit_commit(kafka_bootstrap: str, scored_topic: str):
    group = f"g-{uuid.uuid4().hex[:6]}"
    with _consumer(kafka_bootstrap, scored_topic, group) as consumer:
        batches = consumer.batches(max_records=25)
        first = next(batches)
        consumer.commit()  # the current batch counts as done
        assert 0 < len(first) <= 25
    with _consumer(kafka_bootstrap, scored_topic, group) as again:
        rest = [s for batch in again.batches(max_records=25) for s in batch]
    assert len(first) + len(rest) == COUNT
    assert not {s.trace_id for s in first} & {s.trace_id for s in rest}


def test_invalid_messages_are_skipped_and_counted(kafka_bootstrap: str, new_topic) -> None:
    topic = new_topic()
    valid = ScoredTrace(
        trace_id="t-1",
        timestamp="2026-11-25T12:00:00Z",
        app="demo",
        status="OK",
        results=[{"evaluator": "latency", "score": 0.9, "passed": True}],
        source={"topic": "traces", "partition": 0, "offset": 1},
        scored_at="2026-11-25T12:00:01Z",
    ).model_dump_json()
    produce(kafka_bootstrap, topic, [b"{not json", valid.encode(), b'{"trace_id": "t-2"}'])
    with _consumer(kafka_bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}") as consumer:
        assert [s.trace_id for s in consumer] == ["t-1"]
        assert (consumer.stats().consumed, consumer.stats().invalid) == (3, 2)
