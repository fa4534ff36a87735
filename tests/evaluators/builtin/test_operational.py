"""Operational evaluators: latency, error, token usage, cost (and the price table)."""

from __future__ import annotations

from typing import Any

import pytest

from evaluators import Result
from evaluators.builtin.operational import (
    CostEvaluator,
    ErrorEvaluator,
    LatencyEvaluator,
    TokenUsageEvaluator,
)
from evaluators.outcome import to_results
from evaluators.pricing import DEFAULT_PRICES, PriceTable
from schemas import NOT_APPLICABLE, Trace


def _trace(**fields: Any) -> Trace:
    return Trace.model_validate({"trace_id": "t", **fields})


def _record(ev: Any, trace: Trace) -> tuple[Any, ...]:
    (record,) = to_results(ev, ev.evaluate(trace), ev.threshold, None)
    return (record.score, record.passed, record.label)


# --- latency -------------------------------------------------------------------------------


def test_latency_within_slo() -> None:
    ev = LatencyEvaluator(slo_ms=1000)
    result = ev.evaluate(_trace(latency_ms=1000))
    assert result == Result(
        score=1.0,
        label="within_slo",
        rationale="1000 ms vs SLO 1000 ms",
        metadata={"latency_ms": 1000.0, "slo_ms": 1000.0},
    )
    assert _record(ev, _trace(latency_ms=0)) == (1.0, True, "within_slo")


def test_latency_over_slo_scores_slo_over_actual() -> None:
    ev = LatencyEvaluator(slo_ms=1000)
    result = ev.evaluate(_trace(latency_ms=4000))
    assert result.score == 0.25
    assert result.label == "over_slo"
    assert result.rationale == "4000 ms vs SLO 1000 ms"
    assert _record(ev, _trace(latency_ms=1001)) == (1000 / 1001, False, "over_slo")


def test_latency_default_slo_and_missing_latency() -> None:
    ev = LatencyEvaluator()
    assert (ev.name, ev.threshold, ev.slo_ms) == ("latency", 1.0, 2000.0)
    assert ev.evaluate(_trace()) is None
    assert _record(ev, _trace()) == (None, None, NOT_APPLICABLE)


# --- error ---------------------------------------------------------------------------------


def test_error_ok() -> None:
    ev = ErrorEvaluator()
    assert ev.evaluate(_trace(status="OK")) == Result(score=1.0, label="ok")
    assert _record(ev, _trace(status="STATUS_CODE_UNSET")) == (1.0, True, "ok")


def test_error_with_message() -> None:
    ev = ErrorEvaluator()
    result = ev.evaluate(_trace(status="ERROR", error="rate limited"))
    assert result == Result(score=0.0, label="error", rationale="rate limited")
    assert _record(ev, _trace(status="error")) == (0.0, False, "error")
    assert ev.evaluate(_trace(status="error")).rationale == "status ERROR"


def test_error_message_without_error_status_is_ok() -> None:
    assert ErrorEvaluator().evaluate(_trace(error="warning only")).score == 1.0


# --- token usage ---------------------------------------------------------------------------


def test_tokens_within_budget() -> None:
    ev = TokenUsageEvaluator(max_total_tokens=100)
    result = ev.evaluate(_trace(usage={"input_tokens": 60, "output_tokens": 40}))
    assert result == Result(
        score=1.0,
        label="within_budget",
        rationale="100 tokens vs budget 100",
        metadata={"input_tokens": 60, "output_tokens": 40, "total_tokens": 100},
    )


def test_tokens_over_budget() -> None:
    ev = TokenUsageEvaluator(max_total_tokens=100)
    result = ev.evaluate(_trace(usage={"input_tokens": 300, "output_tokens": 100}))
    assert (result.score, result.label) == (0.25, "over_budget")
    assert _record(ev, _trace(usage={"total_tokens": 101})) == (100 / 101, False, "over_budget")


def test_tokens_without_usage_not_applicable() -> None:
    ev = TokenUsageEvaluator()
    assert ev.max_total_tokens == 8000
    assert ev.evaluate(_trace()) is None
    assert ev.evaluate(_trace(usage={})) is None
    assert _record(ev, _trace()) == (None, None, NOT_APPLICABLE)


# --- cost ----------------------------------------------------------------------------------


def test_cost_from_trace() -> None:
    ev = CostEvaluator(budget_usd=0.01)
    result = ev.evaluate(_trace(cost_usd=0.02, model="unknown-model"))
    assert result.score == 0.5
    assert result.label == "over_budget"
    assert result.metadata == {"cost_usd": 0.02, "cost_source": "trace"}
    assert result.rationale == "$0.020000 (trace) vs budget $0.010000"
    assert ev.evaluate(_trace(cost_usd=0.0)).score == 1.0


def test_cost_estimate_by_prefix_for_dated_model() -> None:
    ev = CostEvaluator(budget_usd=0.01)
    trace = _trace(model="gpt-4o-2024-08-06", usage={"input_tokens": 1000, "output_tokens": 500})
    result = ev.evaluate(trace)
    # 1000 * 2.50 / 1e6 + 500 * 10.00 / 1e6 = 0.0025 + 0.005
    assert result.metadata["cost_usd"] == pytest.approx(0.0075, abs=1e-12)
    assert result.metadata["cost_source"] == "price_table"
    assert (result.score, result.label) == (1.0, "within_budget")
    assert result.rationale == "$0.007500 (price_table) vs budget $0.010000"


def test_longest_prefix_wins() -> None:
    table = PriceTable()
    assert table.price_of("gpt-4o-mini-2024-07-18") == DEFAULT_PRICES["gpt-4o-mini"]
    assert table.price_of("gpt-4o-2024-08-06") == DEFAULT_PRICES["gpt-4o"]
    assert table.price_of("openai/GPT-4o") == (2.50, 10.00)
    assert table.price_of("claude-3-5-haiku-20241022") == (0.80, 4.00)
    assert table.price_of("llama-3") is None
    assert table.price_of(None) is None and table.price_of("") is None


def test_cost_unknown_model_not_applicable() -> None:
    ev = CostEvaluator()
    result = ev.evaluate(_trace(model="mystery-1", usage={"input_tokens": 10}))
    assert result == Result(label="not_applicable", rationale="no price for model 'mystery-1'")
    assert _record(ev, _trace(model="mystery-1", usage={"input_tokens": 10})) == (
        None,
        None,
        NOT_APPLICABLE,
    )
    no_model = ev.evaluate(_trace(usage={"input_tokens": 10}))
    assert no_model.rationale == "no price for model None"


def test_cost_without_usage_not_applicable() -> None:
    result = CostEvaluator().evaluate(_trace(model="gpt-4o"))
    assert (result.score, result.label) == (None, "not_applicable")
    assert result.rationale == "trace has neither cost_usd nor token usage"
    assert CostEvaluator().evaluate(_trace(model="gpt-4o", usage={})).score is None


def test_cost_custom_prices_param() -> None:
    ev = CostEvaluator(
        budget_usd=1.0,
        prices={
            "acme-large": {"input_per_million": 10.0, "output_per_million": 30.0},
            "gpt-4o": {"input_per_million": 1.0, "output_per_million": 1.0},  # override
        },
    )
    acme = ev.evaluate(
        _trace(model="acme-large-v2", usage={"input_tokens": 50_000, "output_tokens": 20_000})
    )
    assert acme.metadata["cost_usd"] == pytest.approx(0.5 + 0.6)
    assert (acme.score, acme.label) == (pytest.approx(1 / 1.1), "over_budget")
    gpt = ev.evaluate(_trace(model="gpt-4o", usage={"input_tokens": 1_000_000}))
    assert gpt.metadata["cost_usd"] == pytest.approx(1.0)
    # the defaults are still there for other models
    mini = ev.evaluate(_trace(model="gpt-4o-mini", usage={"output_tokens": 1_000_000}))
    assert mini.metadata["cost_usd"] == pytest.approx(0.60)


def test_custom_price_keys_are_case_insensitive() -> None:
    # Regression: model names are lower-cased for lookup but table keys were not, so a key
    # such as "Qwen2.5-72B" could never match.
    ev = CostEvaluator(
        budget_usd=1.0,
        prices={"Qwen2.5-72B": {"input_per_million": 2.0, "output_per_million": 0.0}},
    )
    result = ev.evaluate(_trace(model="Qwen/Qwen2.5-72B-Instruct", usage={"input_tokens": 1e6}))
    assert result.metadata == {"cost_usd": 2.0, "cost_source": "price_table"}
    assert PriceTable({"GPT-4o": (9.0, 9.0)}).price_of("gpt-4o") == (9.0, 9.0)


@pytest.mark.parametrize(
    ("factory", "params"),
    [
        (LatencyEvaluator, {"slo_ms": 0}),
        (LatencyEvaluator, {"slo_ms": -1}),
        (TokenUsageEvaluator, {"max_total_tokens": 0}),
        (TokenUsageEvaluator, {"max_total_tokens": -5}),
        (CostEvaluator, {"budget_usd": 0}),
        (CostEvaluator, {"prices": {"m": {"input_per_million": 1.0}}}),
        (CostEvaluator, {"prices": {"m": {"input_per_million": "x", "output_per_million": 1}}}),
    ],
)
def test_invalid_params_raise(factory: Any, params: dict) -> None:
    with pytest.raises(ValueError):
        factory(**params)


@pytest.mark.parametrize(
    ("factory", "params"),
    [(LatencyEvaluator, {"slo_ms": "fast"}), (CostEvaluator, {"prices": {"m": 1}})],
)
def test_wrong_param_types_raise(factory: Any, params: dict) -> None:
    with pytest.raises(TypeError):
        factory(**params)


def test_builtin_names_and_thresholds() -> None:
    evs = [LatencyEvaluator(), ErrorEvaluator(), TokenUsageEvaluator(), CostEvaluator()]
    assert [(e.name, e.threshold, e.is_batched()) for e in evs] == [
        ("latency", 1.0, False),
        ("error", 1.0, False),
        ("token_usage", 1.0, False),
        ("cost", 1.0, False),
    ]
