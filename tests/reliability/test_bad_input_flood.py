"""Floods of mixed bad messages through a real broker and worker: every one is
dead-lettered with a reason and its source offset, the good traces around them are scored,
the worker keeps running. Sizes go up to the broker's limit (issue 16, item 1): those dead
letters hold a prefix of the bytes, with the full size and sha256."""

from __future__ import annotations

import base64
import hashlib
import random

import orjson
import pandas as pd
import pytest
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

from pipeline.tools.demo.samples import sample_traces
from schemas import DeadLetter

BROKER_LIMIT = 1_040_000  # a value this size fits the broker's 1,048,588-byte batch limit
HUGE_EVERY = 1000  # one message in this many is 100 KB up to the broker's limit


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
    huge = [
        lambda size: rng.randbytes(size),  # binary garbage
        lambda size: orjson.dumps({"inputs": "x" * size})[:size],  # truncated, no trace id
        lambda size: orjson.dumps({"trace_id": "h", "latency_ms": "x" * size})[:size],
    ]
    return [
        huge[i % len(huge)](rng.randint(100_000, BROKER_LIMIT))
        if i % HUGE_EVERY == HUGE_EVERY - 1
        else makers[i % len(makers)](i)
        for i in range(count)
    ]


def assert_all_dead_lettered(dead: list[DeadLetter], bad: list[bytes], topic: str) -> None:
    assert len(dead) == len(bad)
    assert len({(d.source_partition, d.source_offset) for d in dead}) == len(bad)
    assert all(d.reason and d.source_topic == topic for d in dead)
    by_hash = {hashlib.sha256(b).hexdigest(): b for b in bad}
    assert sorted(d.raw_sha256 for d in dead) == sorted(hashlib.sha256(b).hexdigest() for b in bad)
    for letter in dead:
        kept, full = base64.b64decode(letter.raw_base64), by_hash[letter.raw_sha256]
        assert full.startswith(kept) and letter.raw_size == len(full)
        assert letter.truncated == (kept != full)
    assert any(d.truncated for d in dead)
    kinds = {d.error_type for d in dead}
    assert {"invalid_json", "validation", "not_an_object", "empty"} <= kinds


@pytest.mark.parametrize(
    ("bad_count", "timeout"),
    [
        (10_000, 400),
        pytest.param(100_000, 3600, marks=[pytest.mark.slow, pytest.mark.timeout(4800)]),
    ],
)
def test_bad_messages_up_to_the_broker_limit_are_all_dead_lettered(
    kafka_bootstrap, new_topic, tmp_path, bad_count, timeout
):
    topic = new_topic(partitions=2)
    bad = bad_messages(bad_count)
    good = [orjson.dumps(t) for t in sample_traces(200, seed=13)]
    messages = good[:100] + bad + good[100:]  # the slow run: ~350 MB
    produce(
        kafka_bootstrap,
        topic,
        messages,
        flush_timeout=timeout / 6,
        max_request_size=2**21,
        delivery_timeout_ms=int(timeout / 6 * 1000),  # a busy 2-core box, ~350 MB
    )
    stderr = run_worker(worker_env(kafka_bootstrap, topic, tmp_path / "pq"), timeout=timeout)
    total = bad_count + 200
    assert f"consumed {total:,}, scored 200, dead-lettered {bad_count:,}" in stderr

    records = consume_all(kafka_bootstrap, f"{topic}.dlq", timeout=timeout / 4)
    assert all(len(r.value) + len(r.key or b"") <= 1_000_000 for r in records)
    assert_all_dead_lettered([DeadLetter.model_validate_json(r.value) for r in records], bad, topic)
    assert pd.read_parquet(tmp_path / "pq")["trace_id"].nunique() == 200
