"""The TOML configuration: loading, validation, building evaluators, sampling, filters."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from evaluators import ConfigError, EvaluatorConfig, Registry, load_config
from evaluators.builtin.operational import (
    CostEvaluator,
    ErrorEvaluator,
    LatencyEvaluator,
    TokenUsageEvaluator,
)
from evaluators.config import TraceFilter, parse_config, sample_fraction
from evaluators.runner import build_evaluators
from schemas import Trace

# The example of the module docstring, verbatim.
FULL_EXAMPLE = """
[defaults]
timeout_seconds = 30

[evaluators.latency]
params = { slo_ms = 1500 }

[evaluators.latency_strict]      # a second instance of the same evaluator
use = "latency"
params = { slo_ms = 500 }

[evaluators.safety]
sample_rate = 0.1
filter = { status = ["OK"], tags = { env = "prod" } }

[pricing.gpt-4o]
input_per_million = 2.5
output_per_million = 10.0
"""

# Computed once with blake2b(digest_size=8); must never change (replays and other workers
# rely on the same traces being sampled).
SAMPLE_FRACTION_TRACE_1 = 0.5035612772874505


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    for cls in (LatencyEvaluator, ErrorEvaluator, TokenUsageEvaluator, CostEvaluator):
        registry.register(cls, package="evalstream")
    return registry


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "evaluators.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_full_example(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL_EXAMPLE))
    assert config.defaults.timeout_seconds == 30.0
    assert config.defaults.sample_rate == 1.0
    assert config.evaluators is not None
    assert list(config.evaluators) == ["latency", "latency_strict", "safety"]
    assert config.evaluators["latency"].params == {"slo_ms": 1500}
    assert config.evaluators["latency"].use is None
    strict = config.evaluators["latency_strict"]
    assert (strict.use, strict.params, strict.enabled) == ("latency", {"slo_ms": 500}, True)
    safety = config.evaluators["safety"]
    assert safety.sample_rate == 0.1
    assert safety.filter == TraceFilter(status=["OK"], tags={"env": "prod"})
    assert config.pricing["gpt-4o"].input_per_million == 2.5
    assert config.pricing["gpt-4o"].output_per_million == 10.0


def test_no_path_gives_defaults() -> None:
    config = load_config(None)
    assert config == EvaluatorConfig()
    assert config.evaluators is None and config.pricing == {}
    assert (config.defaults.timeout_seconds, config.defaults.sample_rate) == (30.0, 1.0)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert str(exc.value) == f"{path}: config file not found"


def test_invalid_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "[evaluators.latency\nparams = 1\n")
    with pytest.raises(ConfigError, match=r"invalid TOML") as exc:
        load_config(path)
    assert str(exc.value).startswith(f"{path}: invalid TOML: ")


def test_unreadable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("[evaluators.latency]\nparms = { slo_ms = 1 }\n", "evaluators.latency.parms"),
        ("[defaults]\ntimeout = 3\n", "defaults.timeout"),
        ("[evaluators.safety]\nfilter = { state = ['OK'] }\n", "evaluators.safety.filter.state"),
        ("[pricing.m]\ninput_per_million = 1\noutput_per_million = 1\nx = 1\n", "pricing.m.x"),
        ("[evaluatorz]\n", "evaluatorz"),
    ],
)
def test_unknown_key_named(tmp_path: Path, text: str, key_path: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: ")
    assert f"{key_path}: Extra inputs are not permitted" in message


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("[evaluators.safety]\nsample_rate = 1.5\n", "evaluators.safety.sample_rate"),
        ("[evaluators.safety]\nsample_rate = -0.1\n", "evaluators.safety.sample_rate"),
        ("[defaults]\nsample_rate = 1.5\n", "defaults.sample_rate"),
        ("[defaults]\ntimeout_seconds = 0\n", "defaults.timeout_seconds"),
        ("[evaluators.x]\ntimeout_seconds = -1\n", "evaluators.x.timeout_seconds"),
        ("[evaluators.x]\nenabled = 'maybe'\n", "evaluators.x.enabled"),
        ("[pricing.m]\ninput_per_million = -1\noutput_per_million = 1\n", "pricing.m."),
        ("[pricing.m]\ninput_per_million = 1\n", "pricing.m.output_per_million"),
        # issue 16.8: accepted by `config check`, then never or always passing
        ("[evaluators.x]\nthreshold = 2\n", "evaluators.x.threshold"),
        ("[evaluators.x]\nthreshold = -0.5\n", "evaluators.x.threshold"),
        ("[evaluators.x]\nfilter = { status = ['WARN'] }\n", "evaluators.x.filter.status"),
    ],
)
def test_bad_values_named(tmp_path: Path, text: str, key_path: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, text))
    assert key_path in str(exc.value)


def test_parse_config_origin_in_message() -> None:
    with pytest.raises(ConfigError, match=r"^<config>: defaults.sample_rate: "):
        parse_config({"defaults": {"sample_rate": 2}})


def test_default_set_without_evaluators_table(registry: Registry) -> None:
    configured = build_evaluators(EvaluatorConfig(), registry)
    assert [c.name for c in configured] == ["latency", "error", "token_usage", "cost"]
    assert [c.threshold for c in configured] == [1.0, 1.0, 1.0, 1.0]
    assert all(c.sample_rate == 1.0 and c.timeout_seconds == 30.0 for c in configured)


def test_empty_evaluators_table_runs_nothing(registry: Registry) -> None:
    assert build_evaluators(parse_config({"evaluators": {}}), registry) == []


def test_use_aliasing_gives_distinct_result_names(tmp_path: Path, registry: Registry) -> None:
    config = load_config(
        _write(
            tmp_path,
            """
            [evaluators.latency]
            params = { slo_ms = 1500 }
            [evaluators.latency_strict]
            use = "latency"
            params = { slo_ms = 500 }
            threshold = 0.4
            """,
        )
    )
    configured = build_evaluators(config, registry)
    assert [c.name for c in configured] == ["latency", "latency_strict"]
    loose, strict = (c.evaluator for c in configured)
    assert isinstance(loose, LatencyEvaluator) and isinstance(strict, LatencyEvaluator)
    assert (loose.slo_ms, strict.slo_ms) == (1500.0, 500.0)
    assert [c.threshold for c in configured] == [1.0, 0.4]

    trace = Trace(trace_id="t", latency_ms=1000)
    results = [(c.name, c.evaluator.evaluate(trace).score) for c in configured]
    assert results == [("latency", 1.0), ("latency_strict", 0.5)]


def test_unknown_use_target(registry: Registry) -> None:
    config = parse_config({"evaluators": {"fast": {"use": "speed"}}})
    with pytest.raises(ConfigError, match=r"unknown evaluator 'speed' \(installed: "):
        build_evaluators(config, registry)


def test_unknown_param_in_config_is_named(registry: Registry) -> None:
    config = parse_config({"evaluators": {"latency": {"params": {"slo": 1}}}})
    with pytest.raises(ConfigError, match="evaluator 'latency' has no parameter slo"):
        build_evaluators(config, registry)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"slo_ms": "1500"}, "parameter slo_ms must be float, not str '1500'"),
        ({"slo_ms": True}, "parameter slo_ms must be float, not bool True"),
    ],
)
def test_param_of_the_wrong_type_is_named(registry: Registry, params: dict, message: str) -> None:
    # issue 16.8: a string slo_ms gave a raw "'<=' not supported between ..." message
    config = parse_config({"evaluators": {"latency": {"params": params}}})
    with pytest.raises(ConfigError) as exc:
        build_evaluators(config, registry)
    assert str(exc.value) == f"evaluator 'latency': {message}"


def test_int_where_a_float_is_declared_is_fine(registry: Registry) -> None:
    config = parse_config({"evaluators": {"latency": {"params": {"slo_ms": 1500}}}})
    assert build_evaluators(config, registry)[0].evaluator.slo_ms == 1500.0


def test_lower_case_status_filter_still_matches() -> None:
    config = parse_config({"evaluators": {"x": {"filter": {"status": ["error"]}}}})
    assert config.evaluators["x"].filter.matches(Trace(trace_id="t", status="ERROR"))


def test_disabled_evaluator_skipped(registry: Registry) -> None:
    config = parse_config(
        {"evaluators": {"latency": {"enabled": False}, "error": {}, "nope": {"enabled": False}}}
    )
    # a disabled entry is not even looked up, so it may name something not installed
    assert [c.name for c in build_evaluators(config, registry)] == ["error"]


def test_settings_override_defaults(registry: Registry) -> None:
    config = parse_config(
        {
            "defaults": {"timeout_seconds": 5, "sample_rate": 0.5},
            "evaluators": {
                "latency": {},
                "error": {"timeout_seconds": 1.5, "sample_rate": 0.0},
            },
        }
    )
    latency, error = build_evaluators(config, registry)
    assert (latency.timeout_seconds, latency.sample_rate) == (5.0, 0.5)
    assert (error.timeout_seconds, error.sample_rate) == (1.5, 0.0)


def test_pricing_table_injected_into_cost(tmp_path: Path, registry: Registry) -> None:
    config = load_config(
        _write(
            tmp_path,
            """
            [evaluators.cost]
            params = { budget_usd = 1.0 }
            [pricing.acme-llm]
            input_per_million = 1.0
            output_per_million = 2.0
            """,
        )
    )
    (cost,) = build_evaluators(config, registry)
    assert isinstance(cost.evaluator, CostEvaluator)
    trace = Trace.model_validate(
        {
            "trace_id": "t",
            "model": "acme-llm-v2",
            "usage": {"input_tokens": 1_000_000, "output_tokens": 500_000},
        }
    )
    result = cost.evaluator.evaluate(trace)
    assert result.metadata == {"cost_usd": 2.0, "cost_source": "price_table"}
    assert result.label == "over_budget"


def test_explicit_prices_param_wins_over_pricing_table(registry: Registry) -> None:
    config = parse_config(
        {
            "evaluators": {
                "cost": {
                    "params": {
                        "prices": {"acme": {"input_per_million": 4.0, "output_per_million": 0}}
                    }
                }
            },
            "pricing": {"acme": {"input_per_million": 1.0, "output_per_million": 0}},
        }
    )
    (cost,) = build_evaluators(config, registry)
    trace = Trace.model_validate(
        {"trace_id": "t", "model": "acme", "usage": {"input_tokens": 1_000_000}}
    )
    assert cost.evaluator.evaluate(trace).metadata["cost_usd"] == 4.0


def test_pricing_not_injected_into_evaluators_without_prices(registry: Registry) -> None:
    config = parse_config(
        {
            "evaluators": {"latency": {}},
            "pricing": {"acme": {"input_per_million": 1, "output_per_million": 1}},
        }
    )
    (latency,) = build_evaluators(config, registry)
    assert isinstance(latency.evaluator, LatencyEvaluator)


def test_sample_fraction_is_a_fixed_hash() -> None:
    assert sample_fraction("trace-1") == SAMPLE_FRACTION_TRACE_1
    assert sample_fraction("trace-1") == sample_fraction("trace-1")
    assert sample_fraction("trace-2") != sample_fraction("trace-1")
    assert all(0.0 <= sample_fraction(f"id-{i}") < 1.0 for i in range(1000))


def test_sample_fraction_same_in_another_process() -> None:
    # A fresh interpreter has a different str-hash seed; the fraction must not depend on it.
    code = "from evaluators.config import sample_fraction; print(repr(sample_fraction('trace-1')))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=Path(__file__).resolve().parents[2],
        timeout=30,
    )
    assert float(out.stdout.strip()) == SAMPLE_FRACTION_TRACE_1


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.9])
def test_sampling_rate_is_respected(registry: Registry, rate: float) -> None:
    config = parse_config({"evaluators": {"error": {"sample_rate": rate}}})
    (error,) = build_evaluators(config, registry)
    ids = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(10_000)]
    chosen = sum(error.selects(Trace(trace_id=i)) for i in ids)
    assert abs(chosen / 10_000 - rate) <= 0.02


def test_sampling_is_consistent_across_evaluators_and_rates(registry: Registry) -> None:
    config = parse_config(
        {"evaluators": {"latency": {"sample_rate": 0.3}, "error": {"sample_rate": 0.6}}}
    )
    low, high = build_evaluators(config, registry)
    traces = [Trace(trace_id=f"trace-{i}") for i in range(2000)]
    low_set = {t.trace_id for t in traces if low.selects(t)}
    high_set = {t.trace_id for t in traces if high.selects(t)}
    assert low_set < high_set  # nested: a lower rate picks a subset of a higher one
    assert ("trace-1" in low_set) is (SAMPLE_FRACTION_TRACE_1 < 0.3)
    assert "trace-1" in high_set


@pytest.mark.parametrize(("rate", "expected"), [(0.0, False), (1.0, True), (0.5035, False)])
def test_sample_rate_edges(registry: Registry, rate: float, expected: bool) -> None:
    config = parse_config({"evaluators": {"error": {"sample_rate": rate}}})
    (error,) = build_evaluators(config, registry)
    assert error.selects(Trace(trace_id="trace-1")) is expected


def test_filter_by_status() -> None:
    only_errors = TraceFilter(status=["error"])
    assert only_errors.matches(Trace(trace_id="t", status="ERROR")) is True
    assert only_errors.matches(Trace(trace_id="t", status="OK")) is False
    both = TraceFilter(status=["OK", "Error"])
    assert both.matches(Trace(trace_id="t", status="ok")) is True
    assert TraceFilter(status=[]).matches(Trace(trace_id="t")) is False
    assert TraceFilter().matches(Trace(trace_id="t", status="ERROR")) is True


def test_filter_by_tags() -> None:
    prod = TraceFilter(tags={"env": "prod", "app": "bot"})
    assert prod.matches(Trace(trace_id="t", tags={"env": "prod", "app": "bot", "v": "1"}))
    assert not prod.matches(Trace(trace_id="t", tags={"env": "prod"}))
    assert not prod.matches(Trace(trace_id="t", tags={"env": "dev", "app": "bot"}))
    assert not prod.matches(Trace(trace_id="t"))


def test_filter_status_and_tags_combined(registry: Registry) -> None:
    config = parse_config(
        {"evaluators": {"error": {"filter": {"status": ["OK"], "tags": {"env": "prod"}}}}}
    )
    (error,) = build_evaluators(config, registry)
    assert error.selects(Trace(trace_id="a", tags={"env": "prod"})) is True
    assert error.selects(Trace(trace_id="a", status="ERROR", tags={"env": "prod"})) is False
    assert error.selects(Trace(trace_id="a", tags={"env": "dev"})) is False
