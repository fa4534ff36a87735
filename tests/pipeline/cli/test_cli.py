"""The ``evalstream`` command as users run it: real processes, real broker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from kafka_helpers import consume_all

from pipeline.tools.demo.samples import sample_traces

ROOT = Path(__file__).resolve().parents[3]
DATASETS = ROOT.parent / "shared" / "datasets"


def evalstream(*args: str, bootstrap: str = "127.0.0.1:1", stdin: bytes | None = None, **env):
    environ = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    environ.update({"EVALSTREAM_BOOTSTRAP_SERVERS": bootstrap, **env})
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        cwd=ROOT,
        env=environ,
        input=stdin,
        capture_output=True,
        timeout=180,
    )


def assert_one_line_error(done, fragment: str) -> None:
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert fragment in stderr


def test_version_and_help_have_examples():
    assert evalstream("--version").stdout.decode().startswith("evalstream ")
    for command in ("worker", "publish", "tail", "demo"):
        assert "Example" in evalstream(command, "--help").stdout.decode()


def test_publish_jsonl_array_and_stdin_then_tail(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    traces = list(sample_traces(30, seed=3))
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_bytes(b"\n".join(orjson.dumps(t) for t in traces[:10]) + b"\n\n")
    array = tmp_path / "t.json"
    array.write_bytes(orjson.dumps(traces[10:20]))
    stdin = b"\n".join(orjson.dumps(t) for t in traces[20:])

    for args, data in (([str(jsonl)], None), ([str(array)], None), (["-"], stdin)):
        done = evalstream("publish", *args, "--topic", topic, bootstrap=kafka_bootstrap, stdin=data)
        assert done.returncode == 0, done.stderr.decode()
        assert "published 10 traces" in done.stdout.decode()

    records = consume_all(kafka_bootstrap, topic)
    assert sorted(r.key.decode() for r in records) == sorted(t["trace_id"] for t in traces)

    tail = evalstream("tail", topic, "-n", "2", bootstrap=kafka_bootstrap)
    lines = [json.loads(line) for line in tail.stdout.decode().splitlines()]
    assert len(lines) == 4  # 2 per partition
    assert all(line["value"]["trace_id"].startswith("tr-3-") for line in lines)
    everything = evalstream("tail", topic, "--from-beginning", bootstrap=kafka_bootstrap)
    assert len(everything.stdout.decode().splitlines()) == 30


def test_publish_creates_a_missing_topic_with_the_configured_partitions(kafka_bootstrap, tmp_path):
    """Not the broker's auto-create with 1 partition while the worker creates 4 (issue 16.7)."""
    from kafka import KafkaConsumer

    topic = f"fresh-{tmp_path.name[-20:]}".replace("_", "-")
    traces = tmp_path / "t.jsonl"
    traces.write_bytes(b"\n".join(orjson.dumps(t) for t in sample_traces(8, seed=2)))
    done = evalstream(
        "publish",
        str(traces),
        "--topic",
        topic,
        bootstrap=kafka_bootstrap,
        EVALSTREAM_TOPIC_PARTITIONS="3",
    )
    assert done.returncode == 0, done.stderr.decode()
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert consumer.partitions_for_topic(topic) == {0, 1, 2}
    finally:
        consumer.close()
    assert len(consume_all(kafka_bootstrap, topic)) == 8


@pytest.mark.skipif(not DATASETS.exists(), reason="shared datasets not present")
def test_publish_converts_foreign_exports(kafka_bootstrap, new_topic):
    topic = new_topic()
    files = [
        DATASETS / "4_traces/mlflow_otlp/support-bot-4-traces.pb",
        DATASETS / "4_traces/langfuse_exports/llamaindex-2025-06-05.trace.json",
    ]
    done = evalstream(
        "publish",
        *map(str, files),
        "--topic",
        topic,
        "--app",
        "imported",
        bootstrap=kafka_bootstrap,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "published 5 traces" in done.stdout.decode()
    values = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, topic)]
    assert {v["tags"]["app"] for v in values} == {"support-bot", "imported"}


def test_user_mistakes_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"trace_id": "a"}\n{oops\n')
    assert_one_line_error(evalstream("publish", str(bad)), "bad.jsonl:2: invalid JSON")
    assert_one_line_error(evalstream("publish", str(tmp_path / "nope.jsonl")), "no such file")
    no_id = tmp_path / "noid.json"
    no_id.write_text('[{"trace_id": "a"}, {"inputs": "x"}]')
    assert_one_line_error(evalstream("publish", str(no_id)), "item 1")
    config = tmp_path / "bad.toml"
    config.write_text("[evaluators.latency]\nparams = { slo = 3 }\n")
    assert_one_line_error(
        evalstream("worker", "--config", str(config)), "evaluator 'latency' has no parameter slo"
    )
    config.write_text("[evaluators.nonexistent]\n")
    assert_one_line_error(evalstream("worker", "--config", str(config)), "unknown evaluator")
    assert_one_line_error(
        evalstream("worker", bootstrap="127.0.0.1:1", EVALSTREAM_BATCH_SIZE="-1"),
        "EVALSTREAM_BATCH_SIZE",
    )


def test_debug_flag_shows_the_traceback(tmp_path):
    done = evalstream("--debug", "publish", str(tmp_path / "missing.jsonl"))
    assert done.returncode != 0
    assert "Traceback" in done.stderr.decode()


def test_publish_without_a_broker_says_how_to_start_one(tmp_path):
    good = tmp_path / "g.jsonl"
    good.write_text('{"trace_id": "a"}\n')
    done = evalstream("publish", str(good), bootstrap="127.0.0.1:1")
    assert_one_line_error(done, "evalstream broker start")


def test_demo_runs_end_to_end_against_the_test_broker(kafka_bootstrap, tmp_path):
    done = evalstream(
        "demo",
        "--traces",
        "300",
        "--workdir",
        str(tmp_path),
        "--idle",
        "3",
        bootstrap=kafka_bootstrap,
    )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert "Published 304 messages (300 traces, 4 malformed)" in out
    assert "300 messages" in out  # scored-traces topic
    assert "Dead-letter topic" in out and ": 4 messages" in out
    assert "latency p50 / p95 / p99" in out
    assert (tmp_path / "parquet").is_dir()
    # The sample traces come with their spans: the retrieval span holds the documents found.
    spans = pq.read_table(tmp_path / "spans").to_pandas()
    assert set(spans.span_type) == {"CHAIN", "RETRIEVER", "LLM"}
    assert spans.trace_id.nunique() == 300
    retrieved = spans[spans.span_type == "RETRIEVER"].outputs_json.iloc[0]
    assert "page_content" in retrieved


def test_tail_counts_records_not_offsets_on_a_transactional_topic(kafka_bootstrap, new_topic):
    """Each committed transaction leaves a commit marker that takes an offset (issue 18.6)."""
    from kafka import KafkaProducer

    topic = new_topic()
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"tail-{topic}", acks="all"
    )
    producer.init_transactions()
    for i in range(5):
        producer.begin_transaction()
        producer.send(topic, orjson.dumps({"i": i}))
        producer.commit_transaction()
    producer.close()
    for n in (1, 3):
        tail = evalstream("tail", topic, "-n", str(n), bootstrap=kafka_bootstrap)
        assert tail.returncode == 0, tail.stderr.decode()
        values = [json.loads(line)["value"]["i"] for line in tail.stdout.decode().splitlines()]
        assert values == list(range(5 - n, 5))
