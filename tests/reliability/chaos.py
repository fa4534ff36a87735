"""The chaos run shared by the test (N=5,000, K=3) and the benchmark (N=100,000, K=20).

Real processes on a broker of its own: publish N traces, run a worker, SIGKILL it at random
moments K times (restarting it each time), restart the broker once mid-run, then let a last
worker finish. Exactly-once means: Parquet holds N x E rows with no duplicate
(trace_id, evaluator) pair, the traces dataset N rows (one per trace), the spans dataset
N x SPANS rows with no duplicate (trace_id, span_id), and the scored topic, read_committed,
holds exactly N messages.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import pandas as pd
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka_helpers import consume_all

from pipeline.kafka.broker import free_port, start_broker, stop_broker
from pipeline.sinks.dataset import RESULTS, TRACES, dataset_roots
from pipeline.sinks.dataset import SPANS as SPANS_DATASET
from pipeline.tools.demo.samples import sample_traces

ROOT = Path(__file__).resolve().parents[2]
OPERATIONAL = """
[evaluators.latency]
[evaluators.error]
[evaluators.token_usage]
[evaluators.cost]
"""
EVALUATORS = 4
SPANS = 2  # spans added to every published trace, so the spans dataset is checked too


@dataclass
class ChaosResult:
    traces: int
    kills: int
    parquet_rows: int
    duplicate_pairs: int
    distinct_traces: int
    scored_messages: int
    scored_distinct: int
    trace_rows: int
    trace_duplicates: int
    span_rows: int
    span_duplicates: int
    seconds: float


def _publish(bootstrap: str, topic: str, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for trace in sample_traces(count, seed=99, spread_seconds=3600):
        root = f"{trace['trace_id']}-root"
        trace["spans"] = [
            {"span_id": root, "name": "agent"},
            {"span_id": f"{trace['trace_id']}-llm", "parent_id": root, "outputs": "answer"},
        ][:SPANS]
        producer.send(topic, key=trace["trace_id"].encode(), value=orjson.dumps(trace))
    producer.flush()
    producer.close()


def _read(root, columns: list[str], table_format: str = "parquet") -> pd.DataFrame:
    """A dataset as any reader would see it: the Parquet files, or the Delta table's current
    version (deltalake, not our code)."""
    if table_format == "delta":
        from deltalake import DeltaTable

        return DeltaTable(str(root), storage_options=root.storage_options() or None).to_pandas(
            columns=columns
        )
    return pd.read_parquet(root.path, filesystem=root.fs, columns=columns)


def _committed_count(bootstrap: str, topic: str) -> int:
    """Records of ``topic`` below its partitions' last stable offsets (commit markers too)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values()) if parts else 0
    finally:
        consumer.close()


def _wait_for_commits(bootstrap: str, topic: str, since: int, at_least: int) -> None:
    """Until ``at_least`` more records are committed to ``topic`` (at most 120 s: a loaded
    machine starts a worker slowly, and a kill before its first commit tests nothing)."""
    deadline = time.monotonic() + 120
    while _committed_count(bootstrap, topic) - since < at_least:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {at_least} records committed to {topic} within 120 s")
        time.sleep(0.5)


def run_chaos(
    workdir: Path,
    traces: int,
    kills: int,
    seed: int = 1,
    parquet_root: str | None = None,
    storage_env: dict[str, str] | None = None,
    table_format: str = "parquet",
    parquet_from: str = "topic",
    log_level: str | None = None,
    killed_env: dict[str, str] | None = None,
    commits_before_kill: int = 0,
) -> ChaosResult:
    """``parquet_root`` (default ``workdir/parquet``) may be an ``s3://`` URI, reached with
    ``storage_env`` (the AWS variables of the local S3 server). ``killed_env``: settings of
    the workers that are killed only (not of the final one)."""
    rng = random.Random(seed)
    roots = dataset_roots(parquet_root or workdir / "parquet")
    started = time.monotonic()
    handle = start_broker(port=free_port(), data_dir=workdir / "kafka")
    topic = "chaos"
    config = workdir / "operational.toml"
    config.write_text(OPERATIONAL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    env.update(
        EVALSTREAM_BOOTSTRAP_SERVERS=handle.bootstrap,
        EVALSTREAM_INPUT_TOPIC=topic,
        EVALSTREAM_SCORED_TOPIC=f"{topic}.scored",
        EVALSTREAM_SESSION_TURNS_TOPIC=f"{topic}.session-turns",
        EVALSTREAM_SCORED_SESSIONS_TOPIC=f"{topic}.scored-sessions",
        EVALSTREAM_METRICS_TOPIC=f"{topic}.metrics",
        EVALSTREAM_DLQ_TOPIC=f"{topic}.dlq",
        EVALSTREAM_PARQUET_DIR=str(roots[RESULTS]),
        EVALSTREAM_STATE_DIR=str(workdir / "worker-state"),
        EVALSTREAM_CONSUMER_GROUP="chaos-workers",
        EVALSTREAM_CONFIG=str(config),
        EVALSTREAM_SESSION_TIMEOUT_SECONDS="6",
        EVALSTREAM_PARQUET_FLUSH_SECONDS="2",
        EVALSTREAM_BATCH_SIZE="200",
        EVALSTREAM_LOG_LEVEL=log_level or os.environ.get("CHAOS_LOG_LEVEL", "WARNING"),
        **(storage_env or {}),
        EVALSTREAM_TABLE_FORMAT=table_format,
        EVALSTREAM_PARQUET_FROM=parquet_from,
    )
    command = [sys.executable, "-m", "pipeline.cli", "worker"]
    try:
        admin = KafkaAdminClient(bootstrap_servers=handle.bootstrap)
        admin.create_topics([NewTopic(topic, 4, 1)])
        admin.close()
        _publish(handle.bootstrap, topic, traces)
        broker_restart_at = kills // 2
        committed = 0
        for kill in range(kills):
            log = (workdir / f"worker-{kill}.log").open("w")
            killed = {**env, **(killed_env or {})}
            worker = subprocess.Popen(command, env=killed, cwd=ROOT, stderr=log)
            time.sleep(rng.uniform(4.0, 9.0))
            if kill == broker_restart_at:  # the broker goes away under a running worker
                stop_broker(handle)
                time.sleep(rng.uniform(1.0, 3.0))
                handle = start_broker(port=handle.port, data_dir=handle.data_dir)
                time.sleep(rng.uniform(2.0, 5.0))
            if commits_before_kill:  # the kill must find committed work to recover
                _wait_for_commits(handle.bootstrap, f"{topic}.scored", committed,
                                  commits_before_kill)  # fmt: skip
            committed = _committed_count(handle.bootstrap, f"{topic}.scored")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        final_log = workdir / "worker-final.log"
        with final_log.open("w") as log:
            final = subprocess.run(
                [*command, "--stop-when-idle", "8"], env=env, cwd=ROOT, stderr=log, timeout=1800
            )
        if final.returncode != 0:
            tail = final_log.read_text()[-3000:]
            raise RuntimeError(f"final worker exited {final.returncode}: {tail}")
        frame = _read(roots[RESULTS], ["trace_id", "evaluator"], table_format)
        stored = _read(roots[TRACES], ["trace_id", "trace_version"], table_format)
        spans = _read(roots[SPANS_DATASET], ["trace_id", "span_id"], table_format)
        records = consume_all(
            handle.bootstrap, f"{topic}.scored", timeout=300, isolation_level="read_committed"
        )
        scored, scored_distinct = len(records), len({record.key for record in records})
        return ChaosResult(
            traces=traces,
            kills=kills,
            parquet_rows=len(frame),
            duplicate_pairs=int(frame.duplicated(["trace_id", "evaluator"]).sum()),
            distinct_traces=int(frame["trace_id"].nunique()),
            scored_messages=scored,
            scored_distinct=scored_distinct,
            trace_rows=len(stored),
            trace_duplicates=int(stored.duplicated().sum()),
            span_rows=len(spans),
            span_duplicates=int(spans.duplicated().sum()),
            seconds=time.monotonic() - started,
        )
    finally:
        stop_broker(handle)
