"""The function form: ``@evaluator`` binds trace parameters by name."""

from __future__ import annotations

from typing import Any

import pytest

from evaluators import (
    EvaluationRunner,
    Evaluator,
    EvaluatorDefinitionError,
    FunctionEvaluator,
    Registry,
    Result,
    evaluator,
)
from evaluators.decorator import TRACE_PARAMETERS, trace_argument
from evaluators.runner import ConfiguredEvaluator
from pipeline.testing import run_evaluator
from schemas import ResultSource, Trace

TRACE = Trace.model_validate(
    {
        "trace_id": "t1",
        "inputs": {"question": "capital of France?"},
        "outputs": "Paris",
        "context": "Paris is the capital of France.",
        "expectations": {"expected_response": "Paris", "expected_facts": ["capital"]},
        "tags": {"app": "geo"},
    }
)


def test_trace_parameter_names() -> None:
    assert TRACE_PARAMETERS == ("inputs", "outputs", "context", "expectations", "trace", "span")


def test_parameters_bound_by_name_in_any_order() -> None:
    seen: dict[str, Any] = {}

    @evaluator
    def spy(trace, expectations, context, outputs, inputs):
        seen.update(
            inputs=inputs, outputs=outputs, context=context, expectations=expectations, trace=trace
        )
        return True

    assert spy.evaluate(TRACE) is True
    assert seen["inputs"] == {"question": "capital of France?"}
    assert seen["outputs"] == "Paris"
    assert seen["context"] == ["Paris is the capital of France."]
    assert seen["expectations"] == {"expected_response": "Paris", "expected_facts": ["capital"]}
    assert type(seen["expectations"]) is dict
    assert seen["trace"] is TRACE


def test_only_requested_parameters_are_passed() -> None:
    @evaluator
    def only_outputs(outputs: str) -> int:
        return len(outputs)

    assert only_outputs.evaluate(TRACE) == 5


def test_expectations_none_when_trace_has_none() -> None:
    assert trace_argument(Trace(trace_id="t"), "expectations") is None
    trace = Trace.model_validate({"trace_id": "t", "expectations": {"expected_response": "x"}})
    # unset fields are left out, so MLflow-style `"expected_facts" in expectations` works
    assert trace_argument(trace, "expectations") == {"expected_response": "x"}


def test_unknown_extra_expectation_keys_are_passed_through() -> None:
    trace = Trace.model_validate({"trace_id": "t", "expectations": {"guidelines": ["short"]}})
    assert trace_argument(trace, "expectations") == {"guidelines": ["short"]}


def test_config_parameters_with_defaults_and_with_params() -> None:
    @evaluator(name="max_len")
    def max_len(outputs: str, limit: int = 3, unit: str = "chars") -> Result:
        return Result(score=1.0 if len(outputs) <= limit else 0.0, label=f"{limit}{unit}")

    assert max_len.configurable() == {"limit": 3, "unit": "chars"}
    assert max_len.evaluate(TRACE) == Result(score=0.0, label="3chars")

    loose = max_len.with_params(limit=10)
    assert isinstance(loose, FunctionEvaluator) and loose is not max_len
    assert loose.configurable() == {"limit": 10, "unit": "chars"}
    assert loose.evaluate(TRACE) == Result(score=1.0, label="10chars")
    assert (loose.name, loose.version, loose.threshold) == ("max_len", "1", 0.5)

    both = loose.with_params(unit="c")
    assert both.configurable() == {"limit": 10, "unit": "c"}
    # the original is untouched
    assert max_len.configurable() == {"limit": 3, "unit": "chars"}


def test_with_params_unknown_name_raises() -> None:
    @evaluator
    def f(outputs: str, limit: int = 3) -> bool:
        return True

    with pytest.raises(EvaluatorDefinitionError, match="has no parameter colour"):
        f.with_params(colour="red")


def test_config_parameter_without_default_fails_at_decoration() -> None:
    with pytest.raises(EvaluatorDefinitionError, match=r"configuration parameter 'limit'"):

        @evaluator
        def bad(outputs: str, limit: int) -> bool:
            return True


def test_positional_varargs_rejected_at_decoration() -> None:
    with pytest.raises(EvaluatorDefinitionError, match=r"'args' must be a keyword parameter"):

        @evaluator
        def bad(outputs: str, *args: Any) -> bool:
            return True


def test_var_keyword_is_allowed_and_not_a_config_parameter() -> None:
    @evaluator
    def ok(outputs: str, **kwargs: Any) -> bool:
        return kwargs == {}

    assert ok.configurable() == {}
    assert ok.evaluate(TRACE) is True


def test_function_without_trace_parameters_fails() -> None:
    with pytest.raises(EvaluatorDefinitionError, match="takes none of inputs, outputs"):

        @evaluator
        def nothing(limit: int = 3) -> bool:
            return True

    with pytest.raises(EvaluatorDefinitionError):
        evaluator(lambda: True)


def test_decorator_without_parentheses() -> None:
    @evaluator
    def plain(outputs: str) -> bool:
        return True

    assert isinstance(plain, FunctionEvaluator) and isinstance(plain, Evaluator)
    assert (plain.name, plain.version, plain.threshold) == ("plain", "1", 0.5)
    assert plain.source is ResultSource.CODE


def test_decorator_with_parentheses_and_options() -> None:
    @evaluator(name="judge", version=3, threshold=0.8, source="llm_judge")
    def plain(outputs: str) -> float:
        return 0.9

    assert (plain.name, plain.version, plain.threshold) == ("judge", "3", 0.8)
    assert plain.source is ResultSource.LLM_JUDGE

    @evaluator()
    def empty_parens(outputs: str) -> bool:
        return True

    assert empty_parens.name == "empty_parens"


def test_bad_source_rejected() -> None:
    with pytest.raises(ValueError):

        @evaluator(source="oracle")
        def f(outputs: str) -> bool:
            return True


def test_decorated_function_is_still_callable() -> None:
    @evaluator(name="double")
    def double(outputs: str, times: int = 2) -> str:
        return outputs * times

    assert double("ab") == "abab"
    assert double(outputs="x", times=3) == "xxx"
    assert double.func("y") == "yy"


def test_function_evaluator_is_not_batched() -> None:
    @evaluator
    def f(outputs: str) -> bool:
        return True

    assert f.is_batched() is False
    assert f.evaluate_batch([TRACE, TRACE]) == [True, True]


def exact_match(inputs, outputs, expectations):
    """An MLflow-style scorer, untouched: no decorator, no evalstream import."""
    return outputs == expectations["expected_response"]


MLFLOW_TRACES = [
    {
        "trace_id": "a",
        "inputs": "q",
        "outputs": "Paris",
        "expectations": {"expected_response": "Paris"},
    },
    {
        "trace_id": "b",
        "inputs": "q",
        "outputs": "Lyon",
        "expectations": {"expected_response": "Paris"},
    },
]


def test_mlflow_scorer_through_pipeline_testing() -> None:
    run = run_evaluator(exact_match, MLFLOW_TRACES)
    assert run.errors() == []
    assert [r.evaluator for r in run.results] == ["exact_match", "exact_match"]
    assert run.scores == [1.0, 0.0]
    assert [r.passed for r in run.results] == [True, False]
    assert [r.label for r in run.results] == ["pass", "fail"]


def test_mlflow_scorer_through_runner() -> None:
    registry = Registry()
    registry.register(exact_match)
    instance = registry.get("exact_match").create({})
    runner = EvaluationRunner([ConfiguredEvaluator(instance, threshold=0.5)])
    try:
        traces = [Trace.model_validate(t) for t in MLFLOW_TRACES]
        per_trace = runner.score(traces)
    finally:
        runner.close()
    assert [[(r.evaluator, r.score, r.passed, r.error) for r in rs] for rs in per_trace] == [
        [("exact_match", 1.0, True, None)],
        [("exact_match", 0.0, False, None)],
    ]


def test_mlflow_scorer_missing_expectations_is_an_error_result_not_a_crash() -> None:
    run = run_evaluator(exact_match, [{"trace_id": "c", "inputs": "q", "outputs": "Paris"}])
    assert run.scores == [None]
    assert run.errors() == ["TypeError: 'NoneType' object is not subscriptable"]
