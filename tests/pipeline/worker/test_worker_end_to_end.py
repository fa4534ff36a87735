"""The foundation's promise, through a real broker and a real worker process:
1,000 valid traces and 10 malformed messages in; Parquet, scored, metrics and DLQ out."""

from __future__ import annotations

import base64

import orjson
import pandas as pd
from kafka import KafkaConsumer, TopicPartition
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

from evaluators import build_evaluators, discover, load_config
from pipeline.tools.demo.samples import sample_traces
from schemas import DeadLetter, MetricsRecord, ScoredTrace

MALFORMED = [
    b"{not json",
    b'{"trace_id": "x", "inputs": ',  # truncated
    b"\xff\xfe\xfa",  # invalid UTF-8
    b"[1, 2, 3]",  # not an object
    b'"just a string"',
    b'{"inputs": "no trace id"}',
    b'{"trace_id": ""}',
    b'{"trace_id": 12345}',
    b'{"trace_id": "t-bad-latency", "latency_ms": "fast"}',
    b'{"trace_id": "t-bad-usage", "usage": {"input_tokens": -3}}',
]


def test_thousand_traces_and_ten_bad_messages(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=3)
    good = [orjson.dumps(t) for t in sample_traces(1000, seed=11)]
    # Interleave the bad messages among the good ones.
    values = good[:500] + MALFORMED[:5] + good[500:] + MALFORMED[5:]
    produce(kafka_bootstrap, topic, values)
    parquet_dir = tmp_path / "parquet"

    stderr = run_worker(worker_env(kafka_bootstrap, topic, parquet_dir))
    assert "consumed 1,010, scored 1,000, dead-lettered 10" in stderr

    evaluators = [c.name for c in build_evaluators(load_config(None), discover())]
    # The default set: operational and the three offline quality evaluators.
    assert {"latency", "error", "token_usage", "cost"} <= set(evaluators)
    assert {"correctness", "safety", "context_sufficiency"} <= set(evaluators)
    frame = pd.read_parquet(parquet_dir)
    assert len(frame) == 1000 * len(evaluators)
    assert not frame.duplicated(["trace_id", "evaluator", "span_id"]).any()
    assert sorted(frame["evaluator"].unique()) == sorted(evaluators)
    assert frame["trace_id"].nunique() == 1000
    assert set(frame["kafka_topic"]) == {topic}
    assert {"date", "hour"} <= set(frame.columns)
    latency = frame[frame["evaluator"] == "latency"]
    assert latency["score"].between(0, 1).all()
    quality = frame[frame["evaluator"].isin(["correctness", "safety", "context_sufficiency"])]
    assert quality["score"].notna().sum() > 1000  # real scores, not only "not applicable"
    assert quality["error"].isna().all()
    assert (quality.loc[quality["score"].notna(), "rationale"].str.len() > 0).all()

    scored = [
        ScoredTrace.model_validate_json(r.value)
        for r in consume_all(kafka_bootstrap, f"{topic}.scored")
    ]
    assert len(scored) == 1000
    assert len({s.trace_id for s in scored}) == 1000
    assert all(len(s.results) >= len(evaluators) for s in scored)

    dead = [
        DeadLetter.model_validate_json(r.value)
        for r in consume_all(kafka_bootstrap, f"{topic}.dlq")
    ]
    assert len(dead) == 10
    assert sorted(base64.b64decode(d.raw_base64) for d in dead) == sorted(MALFORMED)
    assert all(d.reason and d.source_topic == topic and d.source_offset >= 0 for d in dead)
    reasons = {base64.b64decode(d.raw_base64): d.reason for d in dead}
    assert "trace_id" in reasons[b'{"inputs": "no trace id"}']
    assert "latency_ms" in reasons[b'{"trace_id": "t-bad-latency", "latency_ms": "fast"}']
    assert "JSON" in reasons[b"{not json"]

    windows = [
        MetricsRecord.model_validate_json(r.value)
        for r in consume_all(kafka_bootstrap, f"{topic}.metrics")
    ]
    assert sum(w.trace_count for w in windows) == 1000
    assert {w.app for w in windows} == {"support-bot", "chat"}
    per_eval = sum(w.evaluators["latency"].evaluations for w in windows)
    assert per_eval == 1000

    # Every input offset is committed: a second worker in the group has nothing to do.
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=f"{topic}-workers")
    tps = [TopicPartition(topic, p) for p in range(3)]
    ends = consumer.end_offsets(tps)
    committed = {tp: consumer.committed(tp) for tp in tps}
    consumer.close()
    assert committed == ends
