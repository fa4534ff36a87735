"""The runner: error isolation, timeouts, batch fallback, sampling, ordering."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from evaluators import EvaluationRunner, Evaluator, Result, evaluator
from evaluators.config import TraceFilter, sample_fraction
from evaluators.runner import ConfiguredEvaluator
from schemas import EvaluationResult, Trace

TRACES = [Trace(trace_id=f"t{i}", outputs=f"answer {i}", latency_ms=100.0 * i) for i in range(4)]


@evaluator(name="length")
def length(outputs: str) -> float:
    return len(outputs) / 10


@evaluator(name="boom")
def boom(outputs: str) -> float:
    raise RuntimeError(f"cannot score {outputs!r}")


@evaluator(name="picky")
def picky(outputs: str) -> float:
    if outputs.endswith("2"):
        raise KeyError("two")
    return 1.0


def _cfg(ev: Evaluator, **kw: Any) -> ConfiguredEvaluator:
    kw.setdefault("threshold", 0.5)
    return ConfiguredEvaluator(ev, **kw)


@pytest.fixture
def make_runner() -> Iterator[Any]:
    runners: list[EvaluationRunner] = []

    def make(*configured: ConfiguredEvaluator) -> EvaluationRunner:
        runner = EvaluationRunner(configured)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def _table(per_trace: list[list[EvaluationResult]]) -> list[list[tuple[Any, ...]]]:
    return [[(r.evaluator, r.score, r.error) for r in rs] for rs in per_trace]


def test_raising_evaluator_isolated(make_runner: Any) -> None:
    runner = make_runner(_cfg(length), _cfg(boom))
    out = runner.score(TRACES[:2])
    assert _table(out) == [
        [("length", 0.8, None), ("boom", None, "RuntimeError: cannot score 'answer 0'")],
        [("length", 0.8, None), ("boom", None, "RuntimeError: cannot score 'answer 1'")],
    ]
    errored = out[0][1]
    assert errored.passed is None and errored.latency_ms is not None and errored.latency_ms >= 0


def test_one_bad_trace_does_not_spoil_the_others(make_runner: Any) -> None:
    out = make_runner(_cfg(picky)).score(TRACES)
    assert [rs[0].error for rs in out] == [None, None, "KeyError: 'two'", None]
    assert [rs[0].score for rs in out] == [1.0, 1.0, None, 1.0]


def test_contract_breaking_return_is_an_error_result(make_runner: Any) -> None:
    @evaluator(name="nan")
    def nan(outputs: str) -> float:
        return float("nan")

    @evaluator(name="dict")
    def as_dict(outputs: str) -> dict:
        return {"score": 1}

    @evaluator(name="big")
    def big(outputs: str) -> float:
        return 42.0

    out = make_runner(_cfg(nan), _cfg(as_dict), _cfg(big)).score(TRACES[:1])
    assert out[0][0].error == "ValueError: evaluator returned a non-finite score nan"
    assert out[0][1].error is not None and out[0][1].error.startswith("TypeError: evaluator")
    assert out[0][2].error is not None and "score 42.0 outside [0, 1]" in out[0][2].error
    assert out[0][2].score is None and out[0][2].passed is None


class Hanging(Evaluator):
    """Sleeps up to 5 s on traces whose outputs say "hang" (released at teardown)."""

    name = "hanging"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def evaluate(self, trace: Trace) -> Any:
        self.calls += 1
        if trace.outputs == "hang":
            self.release.wait(5)
        return 1.0


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    ev = Hanging()
    yield ev
    ev.release.set()  # let the stuck thread finish so the interpreter does not wait 5 s


def test_hanging_evaluator_times_out(make_runner: Any, hanging: Hanging) -> None:
    runner = make_runner(_cfg(hanging, timeout_seconds=0.3), _cfg(length))
    batch = [
        Trace(trace_id="a", outputs="fast"),
        Trace(trace_id="b", outputs="hang"),
        Trace(trace_id="c", outputs="unreached"),
    ]
    started = time.monotonic()
    out = runner.score(batch)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2.0
    # the result finished before the deadline is kept, the trace it hung on times out, and
    # the trace after it is scored by a helper thread meanwhile (not lost to the hang)
    assert [(rs[0].evaluator, rs[0].score, rs[0].error) for rs in out] == [
        ("hanging", 1.0, None),
        ("hanging", None, "timed out after 0.3s"),
        ("hanging", 1.0, None),
    ]
    # the other evaluator is unaffected
    assert [rs[1].score for rs in out] == [0.4, 0.4, 0.9]

    # next batch: still stuck, so skipped (no new call) with an error, quickly
    calls = hanging.calls
    started = time.monotonic()
    again = runner.score([Trace(trace_id="d", outputs="fine")])
    assert time.monotonic() - started < 1.0
    assert hanging.calls == calls
    assert again[0][0].error == "skipped: an earlier call is still running past 0.3s"
    assert again[0][0].score is None
    assert again[0][1].score == 0.4

    # once the stuck call returns, the evaluator runs again
    hanging.release.set()
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and runner.busy():
        time.sleep(0.01)
    recovered = runner.score([Trace(trace_id="e", outputs="fine")])
    assert (recovered[0][0].score, recovered[0][0].error) == (1.0, None)


class Batched(Evaluator):
    """Vectorised: the whole batch fails if any trace says "bad"."""

    name = "batched"

    def __init__(self, wrong_length: bool = False) -> None:
        self.wrong_length = wrong_length
        self.batch_sizes: list[int] = []

    def evaluate_batch(self, traces: Sequence[Trace]) -> list[Any]:
        self.batch_sizes.append(len(traces))
        if any(t.outputs == "bad" for t in traces):
            raise ValueError("bad trace in batch")
        scores = [0.25 * (i + 1) for i in range(len(traces))]
        if self.wrong_length and len(traces) > 1:
            return scores[:-1]
        return scores if len(traces) > 1 else [Result(score=0.9, label="single")]


def test_batched_fast_path(make_runner: Any) -> None:
    ev = Batched()
    assert ev.is_batched() is True
    out = make_runner(_cfg(ev)).score(TRACES)
    assert ev.batch_sizes == [4]
    assert [rs[0].score for rs in out] == [0.25, 0.5, 0.75, 1.0]
    assert [rs[0].passed for rs in out] == [False, True, True, True]
    assert all(rs[0].latency_ms is not None for rs in out)


def test_batched_failure_falls_back_to_one_at_a_time(make_runner: Any) -> None:
    ev = Batched()
    batch = [
        Trace(trace_id="a", outputs="ok"),
        Trace(trace_id="b", outputs="bad"),
        Trace(trace_id="c", outputs="ok"),
    ]
    out = make_runner(_cfg(ev)).score(batch)
    assert ev.batch_sizes == [3, 1, 1, 1]
    assert _table(out) == [
        [("batched", 0.9, None)],
        [("batched", None, "ValueError: bad trace in batch")],
        [("batched", 0.9, None)],
    ]
    assert out[0][0].label == "single"


def test_batched_wrong_length_is_handled(make_runner: Any) -> None:
    ev = Batched(wrong_length=True)
    out = make_runner(_cfg(ev)).score(TRACES[:3])
    assert ev.batch_sizes == [3, 1, 1, 1]
    assert [(rs[0].score, rs[0].error) for rs in out] == [(0.9, None)] * 3


def test_batched_returning_empty_for_one_trace(make_runner: Any) -> None:
    class Empty(Evaluator):
        name = "empty"

        def evaluate_batch(self, traces: Sequence[Trace]) -> list[Any]:
            return []

    out = make_runner(_cfg(Empty())).score(TRACES[:2])
    assert [rs[0].error for rs in out] == ["IndexError: list index out of range"] * 2


def test_sampled_out_traces_get_no_row(make_runner: Any) -> None:
    traces = [Trace(trace_id=f"trace-{i}", outputs="x") for i in range(200)]
    rate = 0.5
    runner = make_runner(_cfg(length, sample_rate=rate), _cfg(boom, sample_rate=0.0))
    out = runner.score(traces)
    for trace, results in zip(traces, out, strict=True):
        expected = ["length"] if sample_fraction(trace.trace_id) < rate else []
        assert [r.evaluator for r in results] == expected
    assert 60 < sum(bool(rs) for rs in out) < 140


def test_filtered_out_traces_get_no_row(make_runner: Any) -> None:
    only_errors = _cfg(length, filter=TraceFilter(status=["ERROR"]))
    traces = [Trace(trace_id="a", outputs="x"), Trace(trace_id="b", outputs="x", status="ERROR")]
    assert _table(make_runner(only_errors).score(traces)) == [[], [("length", 0.1, None)]]


def test_results_follow_config_order(make_runner: Any) -> None:
    @evaluator(name="slow")
    def slow(outputs: str) -> float:
        time.sleep(0.05)
        return 0.1

    @evaluator(name="quick")
    def quick(outputs: str) -> float:
        return 0.2

    runner = make_runner(_cfg(slow), _cfg(quick), _cfg(length))
    out = runner.score(TRACES[:2])
    assert [[r.evaluator for r in rs] for rs in out] == [["slow", "quick", "length"]] * 2
    runner = make_runner(_cfg(quick), _cfg(length), _cfg(slow))
    out = runner.score(TRACES[:2])
    assert [[r.evaluator for r in rs] for rs in out] == [["quick", "length", "slow"]] * 2


def test_span_level_results_all_kept_in_order(make_runner: Any) -> None:
    @evaluator(name="spans")
    def spans(trace: Trace) -> list[Result]:
        return [Result(score=0.1, span_id="s1"), Result(score=0.9, span_id="s2")]

    out = make_runner(_cfg(spans), _cfg(length)).score(TRACES[:1])
    assert [(r.evaluator, r.span_id, r.passed) for r in out[0]] == [
        ("spans", "s1", False),
        ("spans", "s2", True),
        ("length", None, True),
    ]


def test_threshold_of_configuration_is_used(make_runner: Any) -> None:
    out = make_runner(_cfg(length, threshold=0.9)).score(TRACES[:1])
    assert (out[0][0].score, out[0][0].passed) == (0.8, False)


def test_empty_batch_and_no_evaluators(make_runner: Any) -> None:
    assert make_runner(_cfg(length)).score([]) == []
    assert make_runner().score(TRACES[:2]) == [[], []]
