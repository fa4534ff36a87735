"""Settings: env prefix, errors, and the generated reference kept in sync with the code."""

from __future__ import annotations

import pytest

from evaluators import discover
from pipeline.exceptions import SettingsError
from pipeline.settings import SECTIONS, Settings, load_settings
from pipeline.tools.settings_doc import DOC_PATH, render


def test_configuration_doc_is_generated_from_the_code():
    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        "docs/configuration.md is stale: run `python -m pipeline.tools.settings_doc`"
    )


def test_every_setting_is_in_exactly_one_section():
    listed = [name for names in SECTIONS.values() for name in names]
    assert sorted(listed) == sorted(Settings.model_fields), (
        "pipeline/settings SECTIONS: missing "
        f"{sorted(set(Settings.model_fields) - set(listed))}, unknown or twice "
        f"{sorted(n for n in listed if listed.count(n) > 1 or n not in Settings.model_fields)}"
    )


def test_every_setting_is_documented_with_its_env_var():
    text = DOC_PATH.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert f"`EVALSTREAM_{name.upper()}`" in text
        assert field.description, f"setting {name} has no description"


def test_env_vars_with_the_prefix_are_read(monkeypatch):
    monkeypatch.setenv("EVALSTREAM_INPUT_TOPIC", "my-traces")
    monkeypatch.setenv("EVALSTREAM_BATCH_SIZE", "64")
    monkeypatch.setenv("INPUT_TOPIC", "ignored-without-prefix")
    settings = load_settings()
    assert settings.input_topic == "my-traces" and settings.batch_size == 64
    assert load_settings(input_topic="flag-wins").input_topic == "flag-wins"


def test_bad_values_name_the_variable(monkeypatch):
    monkeypatch.setenv("EVALSTREAM_BATCH_SIZE", "lots")
    with pytest.raises(SettingsError, match="EVALSTREAM_BATCH_SIZE"):
        load_settings()


def test_password_is_never_shown(monkeypatch):
    monkeypatch.setenv("EVALSTREAM_SASL_PASSWORD", "hunter2-secret")
    settings = load_settings()
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings)
    assert settings.sasl_password.get_secret_value() == "hunter2-secret"


def test_plugin_allowlist_limits_what_is_loaded(monkeypatch):
    monkeypatch.setenv("EVALSTREAM_PLUGIN_ALLOWLIST", "latency, error")
    settings = load_settings()
    assert settings.allowed_plugins == ["latency", "error"]
    assert discover(allow=settings.allowed_plugins).names() == ["error", "latency"]
    monkeypatch.delenv("EVALSTREAM_PLUGIN_ALLOWLIST")
    assert load_settings().allowed_plugins is None
