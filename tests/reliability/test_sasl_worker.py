"""The whole path over SASL/SCRAM: CLI publish, worker, tail; the password never shows."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from kafka_helpers import consume_all
from worker_process import ROOT, run_worker, worker_env

from pipeline.kafka.broker import start_broker, stop_broker

PASSWORD = "s3cret-Pa55word-xyz"


def test_publish_score_and_tail_over_scram(tmp_path):
    handle = start_broker(data_dir=tmp_path / "kafka", scram_users={"evalstream": PASSWORD})
    try:
        sasl = {
            "EVALSTREAM_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "EVALSTREAM_SASL_MECHANISM": "SCRAM-SHA-256",
            "EVALSTREAM_SASL_USERNAME": "evalstream",
            "EVALSTREAM_SASL_PASSWORD": PASSWORD,
        }
        env = worker_env(handle.sasl_bootstrap, "secure", tmp_path / "pq", **sasl)
        traces = tmp_path / "t.jsonl"
        traces.write_text(
            "".join(f'{{"trace_id": "s{i}", "latency_ms": {i}}}\n' for i in range(50))
        )
        cli = [sys.executable, "-m", "pipeline.cli"]
        done = subprocess.run(
            [*cli, "publish", str(traces)], env=env, cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        stderr = run_worker(env)
        assert "scored 50" in stderr
        assert PASSWORD not in stderr
        assert pd.read_parquet(tmp_path / "pq")["trace_id"].nunique() == 50
        tail = subprocess.run(
            [*cli, "tail", "secure.scored", "-n", "100"], env=env, cwd=ROOT, capture_output=True
        )
        assert len(tail.stdout.splitlines()) == 50

        # A wrong password: a clear failure, and the secret is not echoed.
        wrong = {**env, "EVALSTREAM_SASL_PASSWORD": "not-the-" + PASSWORD}
        done = subprocess.run(
            [*cli, "publish", str(traces)], env=wrong, cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and "not-the-" not in done.stderr
        # The plain listener still works for tooling, and holds nothing extra.
        assert len(consume_all(handle.bootstrap, "secure")) == 50
    finally:
        stop_broker(handle)
