"""A real worker on a real broker with EVALSTREAM_TABLE_FORMAT=delta: the results, traces and
spans datasets are Delta tables with exactly the scored rows; a worker SIGKILLed after its
Delta commit but before the Kafka offset commit is replayed by the next one without a single
duplicate row; ``evalstream report`` reads the Delta results."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import orjson
from deltalake import DeltaTable
from kafka import KafkaAdminClient
from kafka_helpers import consume_all, produce
from typer.testing import CliRunner
from worker_process import ROOT, run_worker, worker_env

from pipeline.cli.main import app
from pipeline.sinks.delta import app_id


def trace(i: int) -> bytes:
    spans = [{"span_id": f"t{i}-s{k}", "name": "llm"} for k in range(i % 3)]
    return orjson.dumps(
        {
            "trace_id": f"t{i}",
            "timestamp": f"2026-11-25T1{3 + i % 2}:{i % 60:02d}:00Z",
            "status": "ERROR" if i % 5 == 0 else "OK",
            "latency_ms": 10 * i,
            "inputs": {"q": i},
            "spans": spans,
        }
    )


def delta_env(kafka_bootstrap, topic, tmp_path, **extra):
    config = tmp_path / "two.toml"
    config.write_text("[evaluators.latency]\n[evaluators.error]\n")
    return worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "data" / "parquet",
        **{
            "EVALSTREAM_CONFIG": str(config),
            "EVALSTREAM_TABLE_FORMAT": "delta",
            "EVALSTREAM_PARQUET_FLUSH_SECONDS": "1",
            "EVALSTREAM_LOG_LEVEL": "INFO",
            **extra,
        },
    )


def tables(tmp_path):
    data = tmp_path / "data"
    return [DeltaTable(str(data / name)).to_pandas() for name in ("parquet", "traces", "spans")]


def assert_exact(tmp_path, n: int) -> None:
    results, traces, spans = tables(tmp_path)
    assert len(results) == 2 * n and not results.duplicated(["trace_id", "evaluator"]).any()
    assert sorted(traces.trace_id) == sorted(f"t{i}" for i in range(n))
    assert len(spans) == sum(i % 3 for i in range(n))
    assert not spans.duplicated(["trace_id", "span_id"]).any()


def test_worker_writes_delta_tables_and_report_reads_them(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    produce(kafka_bootstrap, topic, [trace(i) for i in range(40)] + [b"{not json"])
    env = delta_env(kafka_bootstrap, topic, tmp_path)
    run_worker(env)

    assert_exact(tmp_path, 40)
    results = DeltaTable(str(tmp_path / "data" / "parquet")).to_pandas()
    failed = results[(results.evaluator == "error") & ~results.passed.astype(bool)]
    assert sorted(failed.trace_id) == sorted(f"t{i}" for i in range(0, 40, 5))
    assert set(results.hour) == {"13", "14"} and set(results.date) == {"2026-11-25"}
    assert len(consume_all(kafka_bootstrap, f"{topic}.dlq")) == 1

    report = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "report", str(tmp_path / "data" / "parquet"),
         "-o", str(report)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "t0" in report.read_text()  # t0 fails the error evaluator: among the worst

    # compact (OPTIMIZE) keeps every row; retention (DELETE + VACUUM) drops hour 13 only
    root = str(tmp_path / "data" / "parquet")
    late = ["--now", "2026-11-26T14:00:00Z"]
    done = CliRunner().invoke(app, ["compact", "--parquet-dir", root, "--min-age", "1h", *late])
    assert done.exit_code == 0 and "results (Delta" in done.output, done.output
    assert_exact(tmp_path, 40)
    done = CliRunner().invoke(
        app, ["retention", "--parquet-dir", root, "--older-than", "24h", *late]
    )
    assert done.exit_code == 0 and "deleted 1 partition(s)" in done.output, done.output
    results, traces, spans = tables(tmp_path)
    assert set(results.hour) == {"14"} and len(results) == 40
    assert sorted(traces.trace_id) == sorted(f"t{i}" for i in range(1, 40, 2))
    assert len(spans) == sum(i % 3 for i in range(1, 40, 2))


def committed(kafka_bootstrap: str, group: str, topic: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def test_sigkill_between_delta_commit_and_kafka_commit_replays_without_duplicates(
    kafka_bootstrap, new_topic, tmp_path
):
    topic = new_topic(partitions=2)
    produce(kafka_bootstrap, topic, [trace(i) for i in range(300)])
    # Kafka commits every 4 s, Delta flushes every 0.3 s: the kill lands between the two.
    env = delta_env(
        kafka_bootstrap, topic, tmp_path,
        EVALSTREAM_COMMIT_INTERVAL_SECONDS="4", EVALSTREAM_PARQUET_FLUSH_SECONDS="0.3",
        EVALSTREAM_SESSION_TIMEOUT_SECONDS="6",
    )  # fmt: skip
    log = tmp_path / "killed.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker"], env=env, cwd=ROOT, stderr=log.open("w")
    )
    scored = f"{topic}.scored"
    results_root = tmp_path / "data" / "parquet"
    in_delta: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not in_delta:
            if (results_root / "_delta_log").is_dir():
                table = DeltaTable(str(results_root))
                versions = {p: table.transaction_version(app_id(scored, p)) for p in (0, 1)}
                in_delta = {p: v for p, v in versions.items() if v is not None}
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        worker.kill()
    assert in_delta, log.read_text()[-3000:]
    group_offsets = committed(kafka_bootstrap, f"{topic}-workers", scored)
    # The crash window was hit: Delta holds scored offsets the group never committed.
    assert any(group_offsets.get(p, 0) <= v for p, v in in_delta.items()), (
        in_delta, group_offsets
    )  # fmt: skip

    stderr = run_worker(env)
    assert_exact(tmp_path, 300)
    assert "replayed row(s)" in stderr and "skipped, already committed" in stderr
