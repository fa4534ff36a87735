"""The local broker manager, mostly against real Kafka brokers started from the cached jars."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka_helpers import consume_all, produce
from typer.testing import CliRunner

from pipeline.cli.broker import broker_app
from pipeline.exceptions import PipelineError
from pipeline.kafka.broker import (
    BrokerError,
    broker_status,
    ensure_jars,
    free_port,
    is_reachable,
    kill_broker,
    start_broker,
    stop_broker,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


def _bin_dir(tmp_path: Path, *, java: bool, mvn_script: str | None = None) -> str:
    """A PATH with only the given tools: to simulate a machine without java or mvn."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if java:
        (bin_dir / "java").symlink_to(shutil.which("java"))
    if mvn_script is not None:
        mvn = bin_dir / "mvn"
        mvn.write_text("#!/bin/sh\n" + mvn_script)
        mvn.chmod(0o755)
    return str(bin_dir)


def test_produce_and_consume(kafka_bootstrap: str, new_topic) -> None:
    topic = new_topic(partitions=2)
    produce(kafka_bootstrap, topic, [b"a", b"b", b"c"])
    records = consume_all(kafka_bootstrap, topic)
    assert sorted(r.value for r in records) == [b"a", b"b", b"c"]


def test_is_reachable(kafka_bootstrap: str) -> None:
    assert is_reachable(kafka_bootstrap)
    started = time.monotonic()
    assert not is_reachable(f"127.0.0.1:{free_port()}", timeout=1)
    assert time.monotonic() - started < 5


def test_stop_and_restart_on_same_data_dir_keeps_messages(tmp_path: Path) -> None:
    data_dir = tmp_path / "broker"
    port = free_port()
    handle = start_broker(port=port, data_dir=data_dir)
    try:
        assert handle.bootstrap == f"127.0.0.1:{port}"
        status = broker_status(data_dir)
        assert status and status["running"] and status["pid"] == handle.pid
        with pytest.raises(BrokerError, match="already running"):
            start_broker(data_dir=data_dir)
        produce(handle.bootstrap, "durable", [b"survives a restart"])
        stop_broker(handle)
        assert not broker_status(data_dir)["running"]
        assert not (data_dir / "broker.pid").exists()
        assert not is_reachable(handle.bootstrap, timeout=1)

        again = start_broker(port=port, data_dir=data_dir)
        assert [r.value for r in consume_all(again.bootstrap, "durable")] == [b"survives a restart"]
        kill_broker(again)  # unclean: the next start must recover the log
        assert not broker_status(data_dir)["running"]
        recovered = start_broker(port=port, data_dir=data_dir)
        assert [r.value for r in consume_all(recovered.bootstrap, "durable")] == [
            b"survives a restart"
        ]
    finally:
        kill_broker(data_dir)


def test_start_failure_reports_broker_output(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="exited with code") as info:
        start_broker(port=free_port(), data_dir=tmp_path, heap="not-a-size")
    assert "heap" in str(info.value).lower()
    assert not broker_status(tmp_path)["running"]


def test_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, java=False))
    with pytest.raises(BrokerError, match="`java` is not on PATH") as info:
        start_broker(port=free_port(), data_dir=tmp_path / "broker")
    assert isinstance(info.value, PipelineError)


def test_ensure_jars_missing_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, java=True))
    with pytest.raises(BrokerError, match="`mvn` is not on PATH"):
        ensure_jars("3.9.1", cache_dir=tmp_path / "cache")


def test_ensure_jars_mvn_failure_shows_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = 'echo "[ERROR] Could not resolve dependencies: no network"; exit 1\n'
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, java=True, mvn_script=script))
    with pytest.raises(BrokerError, match="no network"):
        ensure_jars("3.9.1", cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # no half download left behind


def test_ensure_jars_reuses_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jar_dir = tmp_path / "kafka-9.9.9"
    jar_dir.mkdir()
    (jar_dir / "kafka_2.13-9.9.9.jar").touch()
    monkeypatch.setenv("PATH", _bin_dir(tmp_path, java=False))  # mvn must not be needed
    monkeypatch.setenv("EVALSTREAM_KAFKA_CACHE_DIR", str(tmp_path))
    assert ensure_jars("9.9.9") == jar_dir
    assert ensure_jars("9.9.9", cache_dir=tmp_path) == jar_dir


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``evalstream broker ...`` in a fresh process, as a user would."""
    code = "from pipeline.cli.broker import broker_app; broker_app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_start_status_stop_across_processes(tmp_path: Path) -> None:
    port = free_port()
    data_dir = ["--data-dir", str(tmp_path)]
    try:
        result = _cli("start", "--port", str(port), *data_dir)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"bootstrap=127.0.0.1:{port}\n"
        assert is_reachable(f"127.0.0.1:{port}")  # the broker outlives the CLI process

        result = _cli("start", "--port", str(port), *data_dir)
        assert result.returncode == 0, result.stderr
        assert "already running" in result.stderr
        assert result.stdout == f"bootstrap=127.0.0.1:{port}\n"

        result = _cli("status", *data_dir)
        assert result.returncode == 0 and f"bootstrap=127.0.0.1:{port}" in result.stdout

        result = _cli("stop", *data_dir)
        assert result.returncode == 0 and "stopped" in result.stdout, result.stderr
        assert _cli("status", *data_dir).returncode == 1
        assert _cli("stop", *data_dir).returncode == 0
    finally:
        kill_broker(tmp_path)


def test_cli_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            broker_app, ["start", "--port", str(port), "--data-dir", str(tmp_path)]
        )
    assert result.exit_code == 2
    expected = f"error: port {port} is already in use; pick another with --port"
    assert result.stderr.strip() == expected
    assert "Traceback" not in result.output


def test_scram_listener(tmp_path: Path) -> None:
    handle = start_broker(data_dir=tmp_path, scram_users={"alice": "alice-secret"})
    try:
        assert handle.sasl_bootstrap
        sasl = {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_plain_username": "alice",
        }
        produce(
            handle.sasl_bootstrap, "secure", [b"hi"], sasl_plain_password="alice-secret", **sasl
        )
        records = consume_all(
            handle.sasl_bootstrap, "secure", sasl_plain_password="alice-secret", **sasl
        )
        assert [r.value for r in records] == [b"hi"]
        # A wrong password never gets through (kafka-python reports it as a bootstrap timeout).
        with pytest.raises(KafkaError):
            KafkaProducer(
                bootstrap_servers=handle.sasl_bootstrap,
                sasl_plain_password="wrong",
                bootstrap_timeout_ms=2000,
                **sasl,
            ).close()
    finally:
        stop_broker(handle)
