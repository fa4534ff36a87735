"""Span targeting (``apply_to``): which spans match, what a span evaluator receives, and the
runner's per-span isolation, sampling, filters and span cap."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evaluators import ConfigError, EvaluationRunner, Evaluator, Registry, Result, evaluator
from evaluators.builtin.operational import LatencyEvaluator
from evaluators.config import parse_config, sample_fraction
from evaluators.runner import ConfiguredEvaluator, build_evaluators
from evaluators.targeting import SpanTarget, span_view
from schemas import SPAN_LIMIT_EXCEEDED, Span, Trace

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _span(i: int, kind: str, name: str, ms: int = 100, **extra: Any) -> dict[str, Any]:
    start = T0 + timedelta(seconds=i)
    return {
        "span_id": f"s{i}",
        "parent_id": "s0" if i else None,
        "name": name,
        "span_type": kind,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(milliseconds=ms)).isoformat(),
        "inputs": {"q": f"in {i}"},
        "outputs": f"out {i}",
        **extra,
    }


AGENT = Trace.model_validate(
    {
        "trace_id": "agent-1",
        "inputs": "plan my trip",
        "outputs": "final answer",
        "latency_ms": 9000,
        "tags": {"app": "agent"},
        "spans": [
            _span(0, "AGENT", "agent", ms=9000),
            _span(1, "LLM", "chat_completion", ms=1200),
            _span(2, "TOOL", "search_flights", ms=2500),
            _span(3, "TOOL", "book_hotel", ms=300, status="ERROR"),
            _span(4, "llm", "chat_completion", ms=800),
        ],
    }
)


@pytest.fixture
def run() -> Iterator[Any]:
    runners: list[EvaluationRunner] = []

    def score(*configured: ConfiguredEvaluator, traces: Sequence[Trace] = (AGENT,)) -> Any:
        runner = EvaluationRunner(configured)
        runners.append(runner)
        return runner.score(list(traces))

    yield score
    for runner in runners:
        runner.close()


def _on(ev: Evaluator, threshold: float = 0.5, **apply_to: Any) -> ConfiguredEvaluator:
    return ConfiguredEvaluator(ev, threshold=threshold, apply_to=SpanTarget(**apply_to))


# --- matching -------------------------------------------------------------------------------


def test_span_type_is_case_insensitive_and_name_is_a_searched_regex() -> None:
    ids = [i for _, i in SpanTarget(span_type=["LLM"]).select(AGENT)]
    assert ids == ["s1", "s4"]
    assert [i for _, i in SpanTarget(span_type="tool", name="hotel$").select(AGENT)] == ["s3"]
    assert [i for _, i in SpanTarget(name="^search").select(AGENT)] == ["s2"]
    assert len(SpanTarget().select(AGENT)) == 5  # an empty apply_to: every span


def test_pick_first_and_last_by_time_not_list_order() -> None:
    spans = list(reversed(AGENT.spans or []))  # the list order says nothing about time
    trace = AGENT.model_copy(update={"spans": spans})
    assert SpanTarget(span_type=["LLM"], pick="last").select(trace)[0][1] == "s4"
    assert SpanTarget(span_type=["LLM"], pick="first").select(trace)[0][1] == "s1"


def test_a_span_without_id_is_named_by_its_place_as_in_the_spans_dataset() -> None:
    trace = Trace(trace_id="t", spans=[Span(name="a", span_type="LLM"), Span(name="b")])
    assert [i for _, i in SpanTarget(span_type=["LLM"]).select(trace)] == ["span-0"]


def test_span_view_has_the_spans_content_duration_and_status() -> None:
    view = span_view(AGENT, (AGENT.spans or [])[3])
    assert view.trace_id == "agent-1" and view.tags == {"app": "agent"}
    assert view.inputs == {"q": "in 3"} and view.outputs == "out 3"
    assert view.latency_ms == pytest.approx(300) and view.status.value == "ERROR"
    assert view.cost_usd is None and view.spans == AGENT.spans


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("apply_to", "message"),
    [
        (
            {"span_typ": ["LLM"]},
            "t.toml: evaluators.s.apply_to: unknown key 'span_typ' (apply_to takes span_type,"
            " name, pick, max_spans)",
        ),
        (
            {"name": "chat(["},
            "t.toml: evaluators.s.apply_to.name: invalid regular expression 'chat([':"
            " unterminated character set at position 5",
        ),
        (
            {"max_spans": 0},
            "t.toml: evaluators.s.apply_to.max_spans: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_apply_to_is_a_one_line_config_error(apply_to: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"evaluators": {"s": {"apply_to": apply_to}}}, origin="t.toml")
    assert str(caught.value) == message and "\n" not in str(caught.value)


def test_config_builds_span_targets_and_the_default_cap() -> None:
    registry = Registry()
    registry.register(LatencyEvaluator)
    config = parse_config(
        {
            "defaults": {"max_spans_per_trace": 7},
            "evaluators": {
                "latency": {},
                "tool_latency": {
                    "use": "latency",
                    "params": {"slo_ms": 1000},
                    "apply_to": {"span_type": "TOOL"},
                },
                "capped": {"use": "latency", "apply_to": {"max_spans": 3}},
            },
        }
    )
    trace_level, tools, capped = build_evaluators(config, registry)
    assert trace_level.apply_to is None
    assert tools.apply_to == SpanTarget(span_type=["TOOL"]) and tools.max_spans == 7
    assert capped.max_spans == 3


# --- running --------------------------------------------------------------------------------


def test_function_evaluator_gets_span_inputs_outputs_and_the_whole_trace(run: Any) -> None:
    seen = []

    @evaluator(name="spy")
    def spy(inputs, outputs, trace, span) -> float:
        seen.append((inputs, outputs, trace.trace_id, trace.outputs, span.span_id))
        return 1.0

    [results] = run(_on(spy, span_type=["LLM"]))
    assert seen == [
        ({"q": "in 1"}, "out 1", "agent-1", "final answer", "s1"),
        ({"q": "in 4"}, "out 4", "agent-1", "final answer", "s4"),
    ]
    assert [(r.evaluator, r.span_id, r.score) for r in results] == [
        ("spy", "s1", 1.0),
        ("spy", "s4", 1.0),
    ]


def test_trace_level_stays_the_default_and_span_is_none_there(run: Any) -> None:
    @evaluator(name="where")
    def where(outputs, span) -> str:
        return "span" if span is not None else f"trace:{outputs}"

    [results] = run(ConfiguredEvaluator(where, threshold=0.5))
    assert [(r.label, r.span_id) for r in results] == [("trace:final answer", None)]


def test_latency_slo_per_tool_span_uses_the_span_duration(run: Any) -> None:
    [results] = run(_on(LatencyEvaluator(slo_ms=1000), threshold=1.0, span_type=["TOOL"]))
    assert [(r.span_id, r.passed, r.metadata["latency_ms"]) for r in results] == [
        ("s2", False, pytest.approx(2500)),
        ("s3", True, pytest.approx(300)),
    ]


class BatchedLength(Evaluator):
    """A vectorised class evaluator: span targets reach it as views, in one call."""

    name = "batched_length"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def evaluate_batch(self, traces: Sequence[Trace]) -> list[Any]:
        self.calls.append(len(traces))
        return [len(str(t.outputs)) / 10 for t in traces]


def test_a_vectorised_evaluator_gets_all_span_targets_of_a_batch_at_once(run: Any) -> None:
    ev = BatchedLength()
    other = AGENT.model_copy(update={"trace_id": "agent-2"})
    per_trace = run(_on(ev, span_type=["LLM", "TOOL"]), traces=[AGENT, other])
    assert ev.calls == [8]
    assert [[r.span_id for r in rs] for rs in per_trace] == [["s1", "s2", "s3", "s4"]] * 2


def test_a_raising_span_gets_the_error_alone(run: Any) -> None:
    @evaluator(name="fragile")
    def fragile(outputs) -> float:
        if outputs == "out 2":
            raise RuntimeError("tool output unreadable")
        return 1.0

    [results] = run(_on(fragile, span_type=["TOOL", "LLM"]))
    assert [(r.span_id, r.score, r.error) for r in results] == [
        ("s1", 1.0, None),
        ("s2", None, "RuntimeError: tool output unreadable"),
        ("s3", 1.0, None),
        ("s4", 1.0, None),
    ]


class HangsOnSpan(Evaluator):
    """Hangs (until released) on the spans whose outputs are in ``hang_on``."""

    name = "hangs_on_span"

    def __init__(self, hang_on: tuple[str, ...] = ("out 2",)) -> None:
        self.release = threading.Event()
        self.hang_on = hang_on
        self.threads: set[str] = set()

    def evaluate(self, trace: Trace) -> Any:
        self.threads.add(threading.current_thread().name)
        if trace.outputs in self.hang_on:
            self.release.wait(5)
        return 1.0


def _hanging(ev: HangsOnSpan, timeout: float = 0.4) -> ConfiguredEvaluator:
    return ConfiguredEvaluator(
        ev, threshold=0.5, timeout_seconds=timeout, apply_to=SpanTarget(span_type=["TOOL", "LLM"])
    )


def test_a_hanging_span_times_out_alone_and_the_spans_after_it_are_evaluated(run: Any) -> None:
    ev = HangsOnSpan()
    try:
        started = time.monotonic()
        [results] = run(_hanging(ev), ConfiguredEvaluator(LatencyEvaluator(), threshold=1.0))
        elapsed = time.monotonic() - started
    finally:
        ev.release.set()
    assert [(r.evaluator, r.span_id, r.score, r.error) for r in results] == [
        ("hangs_on_span", "s1", 1.0, None),  # finished before the hang
        ("hangs_on_span", "s2", None, "timed out after 0.4s"),  # the span that hung
        ("hangs_on_span", "s3", 1.0, None),  # evaluated by the helper thread meanwhile
        ("hangs_on_span", "s4", 1.0, None),
        ("latency", None, 2000 / 9000, None),  # the trace-level evaluator unaffected
    ]
    assert 0.35 <= elapsed < 2.0  # the deadline, not the 5 s hang
    assert len(ev.threads) == 2  # the call's thread and one helper


def test_when_the_helper_hangs_too_the_spans_left_say_which_spans_held_them_up(
    run: Any,
) -> None:
    ev = HangsOnSpan(hang_on=("out 2", "out 3"))
    try:
        [results] = run(_hanging(ev))
    finally:
        ev.release.set()
    held_up = (
        "not evaluated: hangs_on_span was still on spans s2, s3 at the deadline"
        " (timed out after 0.4s)"
    )
    assert [(r.span_id, r.score, r.error) for r in results] == [
        ("s1", 1.0, None),
        ("s2", None, "timed out after 0.4s"),
        ("s3", None, "timed out after 0.4s"),  # the helper hung on it: no third thread
        ("s4", None, held_up),  # never reached, and says why
    ]
    assert len(ev.threads) == 2


def test_a_stuck_span_call_skips_the_evaluator_in_later_batches_until_it_returns() -> None:
    ev = HangsOnSpan()
    runner = EvaluationRunner([_hanging(ev, timeout=0.3)])
    try:
        runner.score([AGENT])
        started = time.monotonic()
        [again] = runner.score([AGENT.model_copy(update={"trace_id": "agent-2"})])
        assert time.monotonic() - started < 0.5
        assert {r.error for r in again} == {"skipped: an earlier call is still running past 0.3s"}
        assert [r.span_id for r in again] == ["s1", "s2", "s3", "s4"]
        ev.release.set()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and runner.busy():
            time.sleep(0.01)
        ev.hang_on = ()
        [recovered] = runner.score([AGENT])
        assert [(r.score, r.error) for r in recovered] == [(1.0, None)] * 4
    finally:
        ev.release.set()
        runner.close()


def test_sampling_is_per_span_and_deterministic(run: Any) -> None:
    spans = [_span(i, "LLM", "chat") for i in range(200)]
    trace = Trace.model_validate({"trace_id": "many", "spans": spans})
    sampled = ConfiguredEvaluator(
        LatencyEvaluator(), threshold=1.0, sample_rate=0.3, apply_to=SpanTarget()
    )
    [first] = run(sampled, traces=[trace])
    [again] = run(sampled, traces=[trace])
    ids = [r.span_id for r in first]
    assert ids == [r.span_id for r in again]
    assert ids == [f"s{i}" for i in range(200) if sample_fraction("many", f"s{i}") < 0.3]
    assert 30 < len(ids) < 90  # some spans of the trace, not all or none


def test_status_filter_reads_the_span_status(run: Any) -> None:
    from evaluators.config import TraceFilter

    only_errors = ConfiguredEvaluator(
        LatencyEvaluator(),
        threshold=1.0,
        filter=TraceFilter(status=["ERROR"]),
        apply_to=SpanTarget(span_type=["TOOL"]),
    )
    [results] = run(only_errors)
    assert [r.span_id for r in results] == ["s3"]  # the trace itself is OK


def test_no_matching_span_means_no_row(run: Any) -> None:
    [results] = run(_on(LatencyEvaluator(), span_type=["RETRIEVER"]))
    assert results == []
    [results] = run(_on(LatencyEvaluator()), traces=[Trace(trace_id="no-spans")])
    assert results == []


def test_thousands_of_matching_spans_hit_the_cap_with_one_clear_error(run: Any) -> None:
    calls = []

    @evaluator(name="count")
    def count(outputs) -> float:
        calls.append(outputs)
        return 1.0

    spans = [_span(i, "TOOL", "step") for i in range(5000)]
    trace = Trace.model_validate({"trace_id": "huge", "spans": spans})
    capped = ConfiguredEvaluator(
        count, threshold=0.5, apply_to=SpanTarget(span_type=["TOOL"]), max_spans=50
    )
    [results] = run(capped, traces=[trace])
    assert len(calls) == 50 and len(results) == 51
    assert [r.span_id for r in results[:50]] == [f"s{i}" for i in range(50)]
    over = results[-1]
    assert over.label == SPAN_LIMIT_EXCEEDED and over.span_id is None and over.score is None
    assert over.error is not None and over.error.startswith(
        "span limit: 5000 spans matched apply_to, the first 50 were evaluated"
    )
    assert over.metadata == {"matched_spans": 5000, "max_spans": 50}


def test_an_evaluators_own_span_id_wins(run: Any) -> None:
    @evaluator(name="own")
    def own(outputs) -> Result:
        return Result(score=1.0, span_id="child-of-" + outputs)

    [results] = run(_on(own, span_type=["LLM"]))
    assert [r.span_id for r in results] == ["child-of-out 1", "child-of-out 4"]
