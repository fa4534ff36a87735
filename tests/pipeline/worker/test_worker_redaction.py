"""With EVALSTREAM_REDACT set, no PII reaches the scored topic, Parquet or the DLQ."""

from __future__ import annotations

import base64

import orjson
import pandas as pd
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

EMAIL, PHONE = "jane.doe@example.com", "+1 (415) 555-2671"


def test_redaction_covers_every_output(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic()
    traces = [
        {
            "trace_id": f"pii-{i}",
            "inputs": {"question": f"My email is {EMAIL}, what is my plan?"},
            "outputs": f"Hello, we will call you at {PHONE} or write to {EMAIL}.",
            "context": [f"Customer {EMAIL} is on the Pro plan."],
            "status": "ERROR" if i % 2 else "OK",
            "error": f"upstream refused {EMAIL}" if i % 2 else None,
            "latency_ms": 100,
            "tags": {"app": "bot", "user": EMAIL},
        }
        for i in range(20)
    ]
    bad = f'{{"inputs": "no id, but {EMAIL}"'.encode()
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces] + [bad])
    env = worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "pq",
        EVALSTREAM_REDACT="all",
        EVALSTREAM_REDACT_PATTERNS='{"plan": "Pro plan"}',
    )
    run_worker(env)

    scored = b"".join(r.value for r in consume_all(kafka_bootstrap, f"{topic}.scored"))
    dead = b"".join(r.value for r in consume_all(kafka_bootstrap, f"{topic}.dlq"))
    frame = pd.read_parquet(tmp_path / "pq")
    parquet_text = frame.astype(str).to_csv()
    assert scored.count(b'"trace_id"') == 20
    dead_raw = base64.b64decode(orjson.loads(dead)["raw_base64"]).decode()
    for text in (scored.decode(), parquet_text, dead_raw):
        assert "jane.doe" not in text and "555-2671" not in text
    assert "[REDACTED:email]" in scored.decode() and "[REDACTED:email]" in dead_raw
    assert "[REDACTED:email]" in parquet_text  # the tag and error columns kept their shape
    assert (frame["status"] == "ERROR").sum() > 0 and frame["trace_id"].nunique() == 20
