"""The whole path over TLS, then over SASL_SSL: CLI publish, worker, tail, against the local
broker's SSL listeners with a CA and certificate made by the test (issue 16, item 14). A
client that trusts another CA fails with one line that says so."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from tls_certs import make_tls_files
from worker_process import ROOT, run_worker, worker_env

from pipeline.kafka.broker import start_broker, stop_broker

PASSWORD = "tls-Pa55word-xyz"
CLI = [sys.executable, "-m", "pipeline.cli"]


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    root = tmp_path_factory.mktemp("tls")
    files = make_tls_files(root / "certs")
    handle = start_broker(
        data_dir=root / "kafka",
        scram_users={"evalstream": PASSWORD},
        tls_keystore=files.broker_keystore,
    )
    try:
        yield handle, files
    finally:
        stop_broker(handle)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_publish_score_and_tail_over_tls(tls_broker, tmp_path, protocol):
    handle, files = tls_broker
    security = {"EVALSTREAM_SECURITY_PROTOCOL": protocol, "EVALSTREAM_SSL_CAFILE": str(files.ca)}
    bootstrap = handle.ssl_bootstrap
    if protocol == "SASL_SSL":
        bootstrap = handle.sasl_ssl_bootstrap
        security |= {
            "EVALSTREAM_SASL_MECHANISM": "SCRAM-SHA-256",
            "EVALSTREAM_SASL_USERNAME": "evalstream",
            "EVALSTREAM_SASL_PASSWORD": PASSWORD,
        }
    topic = f"tls-{protocol.lower()}"
    env = worker_env(bootstrap, topic, tmp_path / "pq", **security)
    traces = tmp_path / "t.jsonl"
    traces.write_text("".join(f'{{"trace_id": "s{i}", "latency_ms": {i}}}\n' for i in range(40)))
    done = cli("publish", str(traces), env=env)
    assert done.returncode == 0, done.stderr
    stderr = run_worker(env)
    assert "consumed 40, scored 40" in stderr and PASSWORD not in stderr
    assert pd.read_parquet(tmp_path / "pq")["trace_id"].nunique() == 40
    tail = cli("tail", f"{topic}.scored", "-n", "100", env=env)
    assert len(tail.stdout.splitlines()) == 40, tail.stderr


def test_a_wrong_ca_is_a_one_line_error(tls_broker, tmp_path):
    handle, files = tls_broker
    env = worker_env(
        handle.ssl_bootstrap,
        "tls-wrong-ca",
        tmp_path / "pq",
        EVALSTREAM_SECURITY_PROTOCOL="SSL",
        EVALSTREAM_SSL_CAFILE=str(files.other_ca),
    )
    traces = tmp_path / "t.jsonl"
    traces.write_text('{"trace_id": "x"}\n')
    done = cli("publish", str(traces), env=env)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "certificate verify failed" in lines[0] and "EVALSTREAM_SSL_CAFILE" in lines[0]
