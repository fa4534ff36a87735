"""Two workers in one consumer group share partitions; a config file shapes the evaluators;
the dataset is readable by DuckDB without evalstream code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest
from kafka_helpers import consume_all, group_progress, produce, wait_for_members
from worker_process import ROOT, run_worker, worker_env

from pipeline.tools.demo.samples import sample_traces
from schemas import ScoredTrace


def test_two_workers_split_partitions_and_score_each_trace_once(
    kafka_bootstrap, new_topic, tmp_path
):
    topic = new_topic(partitions=4)
    env = worker_env(kafka_bootstrap, topic, tmp_path / "pq")
    command = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "4"]
    logs = [tmp_path / f"worker{i}.log" for i in range(2)]
    # Files, not pipes: an undrained pipe would block a worker that logs a lot.
    workers = [subprocess.Popen(command, env=env, cwd=ROOT, stderr=log.open("w")) for log in logs]
    try:
        wait_for_members(kafka_bootstrap, f"{topic}-workers", 2)
        produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(2000, seed=5)])
        for w in workers:
            try:
                w.wait(timeout=180)
            except subprocess.TimeoutExpired:
                tails = [log.read_text()[-3000:] for log in logs]
                pytest.fail(f"a worker did not stop when idle; logs:\n{tails}")
    finally:
        for w in workers:
            w.kill()
    outputs = [log.read_text() for log in logs]
    assert [w.returncode for w in workers] == [0, 0], outputs
    consumed = [
        int(match.replace(",", ""))
        for out in outputs
        for match in re.findall(r"^consumed ([\d,]+), scored", out, flags=re.MULTILINE)
    ]
    assert len(consumed) == 2 and all(n > 0 for n in consumed)
    frame = pd.read_parquet(tmp_path / "pq")
    scored = consume_all(kafka_bootstrap, f"{topic}.scored")
    scored_ids = {ScoredTrace.model_validate_json(r.value).trace_id for r in scored}
    # Everything the assertions below need to tell a lost trace from a miscount.
    found = (
        f"consumed {consumed}, scored topic {len(scored_ids)} traces, Parquet"
        f" {frame['trace_id'].nunique()}, input partitions (committed, end):"
        f" {group_progress(kafka_bootstrap, f'{topic}-workers', topic)}; rebalances logged:"
        f" {[out.count('rebalanc') for out in outputs]}"
    )
    assert sum(consumed) == 2000, found
    assert frame["trace_id"].nunique() == 2000, found
    assert not frame.duplicated(["trace_id", "evaluator", "span_id"]).any()
    assert len(scored_ids) == 2000, found


PLUGIN_CONFIG = """
[defaults]
timeout_seconds = 5

[evaluators.latency]
params = { slo_ms = 500 }

[evaluators.latency_lenient]
use = "latency"
params = { slo_ms = 5000 }
sample_rate = 0.5

[evaluators.error]
filter = { tags = { app = "chat" } }
"""


def test_config_file_selects_evaluators_sampling_and_filters(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic()
    config = tmp_path / "evalstream.toml"
    config.write_text(PLUGIN_CONFIG)
    traces = list(sample_traces(400, seed=9))
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces])
    run_worker(worker_env(kafka_bootstrap, topic, tmp_path / "pq", EVALSTREAM_CONFIG=str(config)))

    frame = pd.read_parquet(tmp_path / "pq")
    counts = frame["evaluator"].value_counts().to_dict()
    assert counts["latency"] == 400
    assert 150 <= counts["latency_lenient"] <= 250  # half, chosen by trace_id hash
    chat = sum(1 for t in traces if t["tags"]["app"] == "chat")
    assert counts["error"] == chat
    assert set(counts) == {"latency", "latency_lenient", "error"}
    strict = frame[frame.evaluator == "latency"].set_index("trace_id")
    lenient = frame[frame.evaluator == "latency_lenient"].set_index("trace_id")
    slow = lenient.index[lenient["latency_ms"] > 600]
    assert (strict.loc[slow, "passed"] == False).all()  # noqa: E712
    assert (lenient.loc[slow, "passed"] == True).all()  # noqa: E712


def test_parquet_dataset_reads_in_duckdb_without_evalstream(kafka_bootstrap, new_topic, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    topic = new_topic()
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(100, seed=2)])
    run_worker(worker_env(kafka_bootstrap, topic, tmp_path / "pq"))
    glob = str(Path(tmp_path / "pq" / "**" / "*.parquet"))
    rows = duckdb.sql(
        f"SELECT evaluator, count(*) AS n, count(DISTINCT trace_id) AS traces, min(hour) AS h "
        f"FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY evaluator"
    ).fetchall()
    assert rows and all(n == 100 and traces == 100 for _, n, traces, _ in rows)
