"""Return-value conventions: what an evaluator may return and the records it becomes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from evaluators import Evaluator, Result
from evaluators.outcome import MAX_TEXT, _as_result, error_result, to_results
from schemas import NOT_APPLICABLE, EvaluationResult, ResultSource


class _Named(Evaluator):
    name = "probe"
    version = "7"
    source = ResultSource.MODEL

    def evaluate(self, trace):
        return None


EV = _Named()


def _one(outcome: Any, threshold: float = 0.5) -> EvaluationResult:
    records = to_results(EV, outcome, threshold, latency_ms=1.5)
    assert len(records) == 1
    return records[0]


def _summary(record: EvaluationResult) -> tuple[Any, ...]:
    return (record.score, record.passed, record.label)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (True, (1.0, True, "pass")),
        (False, (0.0, False, "fail")),
        (1, (1.0, True, None)),
        (0, (0.0, False, None)),
        (0.5, (0.5, True, None)),  # passed is score >= threshold, inclusive
        (0.49, (0.49, False, None)),
        (0.75, (0.75, True, None)),
    ],
)
def test_bool_and_numbers(outcome: Any, expected: tuple[Any, ...]) -> None:
    record = _one(outcome)
    assert _summary(record) == expected
    assert isinstance(record.score, float)


def test_record_carries_evaluator_identity() -> None:
    record = _one(0.9)
    assert record.evaluator == "probe"
    assert record.evaluator_version == "7"
    assert record.source is ResultSource.MODEL
    assert record.latency_ms == 1.5
    assert record.error is None


@pytest.mark.parametrize("word", ["yes", "PASS", "passed", "True", " correct ", "ok"])
def test_pass_words(word: str) -> None:
    assert _summary(_one(word)) == (1.0, True, word)


@pytest.mark.parametrize("word", ["no", "Fail", "failed", "false", "INCORRECT"])
def test_fail_words(word: str) -> None:
    assert _summary(_one(word)) == (0.0, False, word)


def test_other_string_is_a_label_without_score() -> None:
    assert _summary(_one("neutral")) == (None, None, "neutral")
    assert _summary(_one("")) == (None, None, "")


def test_none_is_not_applicable() -> None:
    record = _one(None)
    assert NOT_APPLICABLE == "not_applicable"
    assert _summary(record) == (None, None, "not_applicable")
    assert record.error is None and record.rationale is None


def test_threshold_is_applied() -> None:
    assert _one(0.7, threshold=0.8).passed is False
    assert _one(0.8, threshold=0.8).passed is True
    assert _one(True, threshold=1.0).passed is True
    assert _one("yes", threshold=1.0).passed is True
    assert _one(0.99, threshold=1.0).passed is False


def test_list_of_results_is_span_level() -> None:
    records = to_results(
        EV,
        [
            Result(score=0.9, span_id="s1", metadata={"k": 1}),
            Result(score=0.1, span_id="s2", rationale="weak"),
            Result(label="skipped", span_id="s3"),
        ],
        0.5,
        2.0,
    )
    assert [(r.span_id, r.score, r.passed, r.label) for r in records] == [
        ("s1", 0.9, True, None),
        ("s2", 0.1, False, None),
        ("s3", None, None, "skipped"),
    ]
    assert records[0].metadata == {"k": 1}
    assert records[1].rationale == "weak"
    assert all(r.latency_ms == 2.0 and r.evaluator == "probe" for r in records)


def test_list_of_plain_values_is_accepted_too() -> None:
    records = to_results(EV, [True, 0.2, None], 0.5, None)
    assert [_summary(r) for r in records] == [
        (1.0, True, "pass"),
        (0.2, False, None),
        (None, None, "not_applicable"),
    ]


def test_empty_list_is_not_applicable() -> None:
    records = to_results(EV, [], 0.5, 3.0)
    assert len(records) == 1
    assert _summary(records[0]) == (None, None, NOT_APPLICABLE)
    assert (records[0].evaluator, records[0].latency_ms) == ("probe", 3.0)


def test_result_passed_is_recomputed_from_score() -> None:
    # Documented rule: "passed is always score >= threshold when there is a score".
    assert _one(Result(score=0.2, passed=True)).passed is False
    assert _one(Result(score=0.9, passed=False)).passed is True
    assert _one(Result(score=0.6, passed=False), threshold=0.6).passed is True


def test_result_passed_kept_without_score() -> None:
    assert _summary(_one(Result(passed=True, label="fine"))) == (None, True, "fine")
    assert _one(Result(passed=False)).passed is False
    assert _one(Result(label="x")).passed is None


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="non-finite score"):
        to_results(EV, bad, 0.5, None)


@pytest.mark.parametrize("bad", [42.0, -0.01, 1.0001, 7])
def test_scores_outside_the_unit_interval_raise(bad: float) -> None:
    # Regression (issue 16.6): a plugin returning 42.0 got passed=True and a mean score of 42.
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        to_results(EV, bad, 0.5, None)
    with pytest.raises(ValueError, match=r"outside \[0, 1\]"):
        to_results(EV, Result(score=bad), 0.5, None)


@pytest.mark.parametrize("edge", [0, 0.0, 1, 1.0])
def test_unit_interval_edges_are_scores(edge: float) -> None:
    assert _one(edge).score == float(edge)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_score_inside_result_raises(bad: float) -> None:
    # Regression: a Result bypassed the finiteness check (NaN became a null score with
    # passed=False in JSON).
    with pytest.raises(ValueError, match="non-finite score"):
        to_results(EV, Result(score=bad), 0.5, None)
    with pytest.raises(ValueError, match="non-finite score"):
        to_results(EV, [Result(score=0.5), Result(score=bad)], 0.5, None)


@pytest.mark.parametrize("bad", [{"score": 1}, (1, 2), object(), b"yes", {1, 2}])
def test_unsupported_types_raise(bad: Any) -> None:
    with pytest.raises(TypeError, match="expected Result/bool/number/str"):
        to_results(EV, bad, 0.5, None)


def test_unsupported_type_inside_list_raises() -> None:
    with pytest.raises(TypeError):
        to_results(EV, [True, {"score": 1}], 0.5, None)


@dataclass
class Feedback:
    """Shaped like ``mlflow.entities.Feedback``."""

    value: Any
    rationale: str | None = None


def test_feedback_like_object() -> None:
    record = _one(Feedback(value="yes", rationale="matches the reference"))
    assert _summary(record) == (1.0, True, "yes")
    assert record.rationale == "matches the reference"


def test_feedback_like_numeric_and_bool_values() -> None:
    assert _summary(_one(Feedback(value=0.3))) == (0.3, False, None)
    assert _one(Feedback(value=0.3)).rationale is None
    assert _summary(_one(Feedback(value=False, rationale="r"))) == (0.0, False, "fail")
    assert _summary(_one(Feedback(value=None, rationale="n/a"))) == (
        None,
        None,
        NOT_APPLICABLE,
    )


def test_feedback_without_rationale_attribute() -> None:
    class OnlyValue:
        value = 1.0

    assert _summary(_one(OnlyValue())) == (1.0, True, None)


def test_feedback_with_non_finite_value_raises() -> None:
    with pytest.raises(ValueError):
        to_results(EV, Feedback(value=math.nan), 0.5, None)


def test_numpy_scalars_from_vectorised_code() -> None:
    # Regression: np.bool_ and np.int64 were rejected ("returned bool; expected ... bool").
    assert _summary(_one(np.bool_(True))) == (1.0, True, "pass")
    assert _summary(_one(np.bool_(False))) == (0.0, False, "fail")
    assert _summary(_one(np.int64(1))) == (1.0, True, None)
    assert _summary(_one(np.float32(0.25))) == (0.25, False, None)
    scores = np.array([0.9, 0.1])
    assert [_summary(_one(v)) for v in list(scores >= 0.5)] == [
        (1.0, True, "pass"),
        (0.0, False, "fail"),
    ]
    with pytest.raises(ValueError):
        to_results(EV, np.float64("nan"), 0.5, None)


def test_long_rationale_is_clipped() -> None:
    record = _one(Result(score=1.0, rationale="x" * (MAX_TEXT + 500)))
    assert record.rationale is not None
    assert len(record.rationale) == MAX_TEXT == 2000
    assert record.rationale == "x" * (MAX_TEXT - 1) + "…"
    exact = _one(Result(score=1.0, rationale="y" * MAX_TEXT))
    assert exact.rationale == "y" * MAX_TEXT


def test_feedback_rationale_is_clipped() -> None:
    record = _one(Feedback(value=True, rationale="z" * 5000))
    assert record.rationale is not None and len(record.rationale) == MAX_TEXT


def test_as_result_returns_result_unchanged() -> None:
    result = Result(score=0.4, label="l")
    assert _as_result(result) is result


def test_error_result() -> None:
    record = error_result(EV, "RuntimeError: boom", 12.0)
    assert record.model_dump(exclude={"schema_version"}) == {
        "evaluator": "probe",
        "evaluator_version": "7",
        "score": None,
        "passed": None,
        "label": None,
        "rationale": None,
        "error": "RuntimeError: boom",
        "latency_ms": 12.0,
        "source": ResultSource.MODEL,
        "span_id": None,
        "metadata": {},
    }
    long = error_result(EV, "e" * 3000, None)
    assert long.error is not None and len(long.error) == MAX_TEXT and long.error.endswith("…")
