"""Messages up to the broker's limit through a real broker and worker (issue 16, item 1).

Before the fix, a 900 KB non-JSON message became a ~1.2 MB dead letter, the send failed with
MessageSizeTooLargeError, the worker exited 1 and the message was in neither output topic.
"""

from __future__ import annotations

import base64
import hashlib
import random

import orjson
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

from pipeline.sinks.size import MAX_FIELD_CHARS
from pipeline.tools.demo.samples import sample_traces
from schemas import DeadLetter, ScoredTrace

NEAR_LIMIT = 900_000  # the broker accepts ~1 MB (message.max.bytes 1,048,588)


def garbage(size: int, seed: int = 5) -> bytes:
    return random.Random(seed).randbytes(size)


def error_trace(trace_id: str, error_chars: int) -> bytes:
    """A valid trace whose error text alone nearly fills a message: its scored message (the
    error plus the results) is over the producer's 1,000,000-byte limit."""
    return orjson.dumps({"trace_id": trace_id, "status": "ERROR", "error": "E" * error_chars})


def test_near_limit_messages_are_dead_lettered_or_scored_never_lost(
    kafka_bootstrap, new_topic, tmp_path
):
    topic = new_topic(partitions=2)
    bad, big = garbage(NEAR_LIMIT), error_trace("big-1", 1_000_000)
    good = [orjson.dumps(t) for t in sample_traces(20, seed=7)]
    produce(kafka_bootstrap, topic, [*good[:10], bad, big, *good[10:]], max_request_size=2**21)
    stderr = run_worker(worker_env(kafka_bootstrap, topic, tmp_path / "pq"))
    assert "consumed 22, scored 21, dead-lettered 1" in stderr

    (record,) = consume_all(kafka_bootstrap, f"{topic}.dlq")
    letter = DeadLetter.model_validate_json(record.value)
    assert letter.truncated and letter.raw_size == NEAR_LIMIT
    assert letter.raw_sha256 == hashlib.sha256(bad).hexdigest()
    assert bad.startswith(base64.b64decode(letter.raw_base64))
    assert letter.reason.startswith("not valid JSON")

    scored = {
        m.trace_id: m
        for m in (
            ScoredTrace.model_validate_json(r.value)
            for r in consume_all(
                kafka_bootstrap, f"{topic}.scored", isolation_level="read_committed"
            )
        )
    }
    assert len(scored) == 21
    assert scored["big-1"].error.startswith("E" * MAX_FIELD_CHARS)
    assert scored["big-1"].error.endswith(
        f"[truncated {1_000_000 - MAX_FIELD_CHARS} of 1000000 chars]"
    )


def test_trace_too_large_even_when_trimmed_is_dead_lettered(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=1)
    many_tags = orjson.dumps(
        {"trace_id": "tags-1", "tags": {f"t{i:06d}": "v" for i in range(30_000)}}
    )
    good = [orjson.dumps(t) for t in sample_traces(5, seed=8)]
    produce(kafka_bootstrap, topic, [*good, many_tags], max_request_size=2**21)
    env = worker_env(kafka_bootstrap, topic, tmp_path / "pq", EVALSTREAM_MAX_MESSAGE_BYTES="200000")
    stderr = run_worker(env)
    assert "consumed 6, scored 5, dead-lettered 1" in stderr
    (record,) = consume_all(kafka_bootstrap, f"{topic}.dlq")
    letter = DeadLetter.model_validate_json(record.value)
    assert letter.error_type == "too_large" and "EVALSTREAM_MAX_MESSAGE_BYTES" in letter.reason
    assert letter.raw_size == len(many_tags) and letter.truncated
    assert len(record.value) <= 200_000
