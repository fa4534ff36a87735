"""10,000 mixed bad messages through a real broker and worker: every one is dead-lettered
with a reason and its source offset, the good traces around them are scored, the worker
keeps running."""

from __future__ import annotations

import base64
import random

import orjson
import pandas as pd
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

from pipeline.tools.demo.samples import sample_traces
from schemas import DeadLetter


def bad_messages(count: int, seed: int = 3) -> list[bytes]:
    rng = random.Random(seed)
    good = orjson.dumps(next(sample_traces(1)))
    makers = [
        lambda i: good[: rng.randint(1, len(good) - 2)],  # truncated JSON
        lambda i: bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))),  # garbage
        lambda i: b"\xff\xfe" + good,  # invalid UTF-8
        lambda i: b"[" * 3000 + b"]" * 3000,  # deeply nested
        lambda i: orjson.dumps({"trace_id": i}),  # wrong type
        lambda i: orjson.dumps({"trace_id": f"t{i}", "latency_ms": "slow"}),
        lambda i: orjson.dumps({"inputs": "x" * rng.randint(0, 50_000)}),  # no trace id, huge
        lambda i: orjson.dumps({"trace_id": f"t{i}", "status": "MAYBE"}),
        lambda i: b'{"trace_id": "a\x00b", "usage": {"input_tokens": -1}}',  # NUL + negative
        lambda i: orjson.dumps([i, "not an object"]),
        lambda i: b"",  # empty value
    ]
    return [makers[i % len(makers)](i) for i in range(count)]


def test_ten_thousand_bad_messages_are_all_dead_lettered(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    bad = bad_messages(10_000)
    good = [orjson.dumps(t) for t in sample_traces(200, seed=13)]
    produce(kafka_bootstrap, topic, good[:100] + bad + good[100:], max_request_size=2**21)
    stderr = run_worker(worker_env(kafka_bootstrap, topic, tmp_path / "pq"), timeout=400)
    assert "consumed 10,200, scored 200, dead-lettered 10,000" in stderr

    dead = [
        DeadLetter.model_validate_json(r.value)
        for r in consume_all(kafka_bootstrap, f"{topic}.dlq", timeout=60)
    ]
    assert len(dead) == 10_000
    assert len({(d.source_partition, d.source_offset) for d in dead}) == 10_000
    assert all(d.reason and d.source_topic == topic for d in dead)
    assert sorted(base64.b64decode(d.raw_base64) for d in dead) == sorted(bad)
    kinds = {d.error_type for d in dead}
    assert {"invalid_json", "validation", "not_an_object", "empty"} <= kinds
    assert pd.read_parquet(tmp_path / "pq")["trace_id"].nunique() == 200
