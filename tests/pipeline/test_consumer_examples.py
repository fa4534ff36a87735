"""The downstream-consumer examples (examples/consume_scored.py, query_parquet.sql,
query_pandas.py) run as a user would run them, against a real worker's output."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import orjson
import pytest
from kafka_helpers import produce
from worker_process import run_worker, worker_env

from pipeline.tools.demo.samples import sample_traces

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TRACES = 40
CONFIG = "[evaluators.latency]\n[evaluators.error]\n[evaluators.cost]\n"


@pytest.fixture(scope="module")
def worker_output(kafka_bootstrap, tmp_path_factory):
    """(bootstrap, scored topic, parquet dir) after one worker scored the sample traces."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    tmp = tmp_path_factory.mktemp("consumers")
    topic = f"consumers-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    admin.close()
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(TRACES, seed=5)])
    (tmp / "evalstream.toml").write_text(CONFIG, encoding="utf-8")
    parquet = tmp / "parquet"
    run_worker(
        worker_env(kafka_bootstrap, topic, parquet, EVALSTREAM_CONFIG=str(tmp / "evalstream.toml"))
    )
    return kafka_bootstrap, f"{topic}.scored", parquet


def consume(bootstrap: str, topic: str, group: str, *extra: str):
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "consume_scored.py"), "--bootstrap", bootstrap,
         "--topic", topic, "--group", group, "--idle-timeout", "3", *extra],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_consume_scored_validates_every_message(worker_output):
    bootstrap, scored, _ = worker_output
    done = consume(bootstrap, scored, "example-a")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"valid {TRACES} invalid 0 duplicates 0"
    assert len(done.stdout.splitlines()) == TRACES + 1

    # Offsets were committed: the same group has nothing left to read.
    again = consume(bootstrap, scored, "example-a", "--quiet")
    assert again.stdout.strip() == "valid 0 invalid 0 duplicates 0"


def test_consume_scored_reports_invalid_messages(worker_output):
    bootstrap, scored, _ = worker_output
    produce(bootstrap, scored, [b'{"trace_id": "x"}', b"not json"])
    done = consume(bootstrap, scored, "example-b", "--quiet")
    assert done.returncode == 1
    assert done.stdout.strip() == f"valid {TRACES} invalid 2 duplicates 0"
    assert "'timestamp' is a required property" in done.stderr
    assert "not JSON" in done.stderr


def test_query_parquet_sql_with_duckdb(worker_output):
    *_, parquet = worker_output
    sql = (EXAMPLES / "query_parquet.sql").read_text(encoding="utf-8")
    assert "'evalstream-data/parquet'" in sql
    sql = sql.replace("'evalstream-data/parquet'", f"'{parquet}'")
    con = duckdb.connect()
    statements = [s for s in sql.split(";\n") if any(
        line.strip() and not line.strip().startswith("--") for line in s.splitlines())]  # fmt: skip
    *setup, per_hour, worst = statements
    for statement in setup:
        con.execute(statement)
    rows = con.execute(per_hour).fetchall()
    assert {r[0] for r in rows} == {"latency", "error", "cost"}
    assert sum(r[2] for r in rows) == 3 * TRACES
    assert all(r[3] is None or 0 <= r[3] <= 1 for r in rows)
    worst_rows = con.execute(worst).fetchall()
    assert worst_rows and all(r[2] >= 1 for r in worst_rows)


def test_query_pandas_script(worker_output):
    *_, parquet = worker_output
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "query_pandas.py"), str(parquet), "--date", "2026-11-25"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for heading in ("pass rate per evaluator per hour", "trace latency (ms)", "worst traces"):
        assert heading in done.stdout
    assert "latency" in done.stdout and "p95" in done.stdout
