"""ClientSettings: the SDK's EVALSTREAM_* variables, MLflow's names in our prefix first."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalstream_client import ClientSettings, ClientSettingsError
from evalstream_client.kafka_config import producer_config
from pipeline.settings import load_settings


def test_defaults_match_the_worker_settings() -> None:
    client, worker = ClientSettings.from_env({}), load_settings()
    for name in (
        "bootstrap_servers",
        "input_topic",
        "scored_topic",
        "spans_topic",
        "outage_log_interval",
    ):
        assert getattr(client, name) == getattr(worker, name), name
    assert (client.async_max_workers, client.async_max_queue_size) == (10, 1000)
    assert (client.async_retry_timeout, client.async_logging) == (500.0, True)
    assert client.spill_dir == worker.spill_dir


def test_mlflow_names_win_over_the_older_ones() -> None:
    env = {
        "EVALSTREAM_ENABLE_ASYNC_TRACE_LOGGING": "false",
        "EVALSTREAM_ASYNC_TRACE_LOGGING_MAX_WORKERS": "3",
        "EVALSTREAM_ASYNC_MAX_WORKERS": "7",
        "EVALSTREAM_ASYNC_MAX_QUEUE_SIZE": "50",
        "EVALSTREAM_ASYNC_TRACE_LOGGING_RETRY_TIMEOUT": "12.5",
        "EVALSTREAM_SPILL_DIR": "/tmp/spill-here",
        "EVALSTREAM_SYNC_TIMEOUT": "2",
        "EVALSTREAM_OUTAGE_LOG_INTERVAL": "5",
    }
    s = ClientSettings.from_env(env)
    assert s.async_logging is False
    assert (s.async_max_workers, s.async_max_queue_size, s.async_retry_timeout) == (3, 50, 12.5)
    assert (s.spill_dir, s.sync_timeout, s.outage_log_interval) == (Path("/tmp/spill-here"), 2, 5)
    assert ClientSettings.from_env(env, async_max_workers=None, input_topic="t").input_topic == "t"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EVALSTREAM_ENABLE_ASYNC_TRACE_LOGGING", "maybe", "not a boolean"),
        ("EVALSTREAM_ASYNC_MAX_QUEUE_SIZE", "0", "must be > 0"),
        ("EVALSTREAM_ASYNC_TRACE_LOGGING_MAX_WORKERS", "many", "invalid literal"),
        ("EVALSTREAM_ASYNC_QUEUE_FULL_POLICY", "shrug", "expected one of"),
        ("EVALSTREAM_SECURITY_PROTOCOL", "TLS", "expected one of"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ClientSettingsError, match=message) as raised:
        ClientSettings.from_env({variable: value})
    assert "EVALSTREAM_" in str(raised.value)


def test_the_worker_settings_stand_in_by_attribute_names(monkeypatch) -> None:
    monkeypatch.setenv("EVALSTREAM_SYNC_TIMEOUT", "4")  # not a worker setting: from the env
    worker = load_settings(
        bootstrap_servers="a:1,b:2",
        security_protocol="SASL_PLAINTEXT",
        sasl_username="app",
        sasl_password="s3cret",
    )
    s = ClientSettings.coerce(worker)
    assert s.bootstrap_list == ["a:1", "b:2"] and s.sync_timeout == 4
    assert s.sasl_password == "s3cret" and "s3cret" not in repr(s)
    config = producer_config(s, "x")
    assert config["sasl_plain_password"] == "s3cret" and config["security_protocol"] == (
        "SASL_PLAINTEXT"
    )


def test_sasl_without_credentials_is_a_clear_error() -> None:
    s = ClientSettings.from_env({"EVALSTREAM_SECURITY_PROTOCOL": "SASL_SSL"})
    with pytest.raises(ClientSettingsError, match="EVALSTREAM_SASL_USERNAME"):
        producer_config(s, "x")
