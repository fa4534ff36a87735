"""Session evaluators through the public API: the same decorator and class form with a
``session`` parameter, the same registry and TOML, a runner that isolates failures."""

from __future__ import annotations

import time

import pytest

from evaluators import Registry, Result, evaluator
from evaluators.config import parse_config
from evaluators.exceptions import EvaluatorDefinitionError
from evaluators.runner import EvaluationRunner, build_evaluators
from evaluators.session import SessionEvaluator, SessionRunner, build_session_evaluators
from schemas import Trace
from schemas.session import Session, SessionTurn


def session(n: int, session_id: str = "s1") -> Session:
    turns = [SessionTurn(trace=Trace(trace_id=f"t{i}", inputs=f"q{i}", outputs=f"a{i}"))
             for i in range(1, n + 1)]  # fmt: skip
    return Session(session_id=session_id, turns=turns)


@evaluator(name="long_conversation")
def long_conversation(session, max_turns: int = 3) -> Result:
    return Result(score=1.0 if len(session) <= max_turns else 0.0, rationale=f"{len(session)}")


class Boom(SessionEvaluator):
    name = "boom"

    def evaluate_session(self, session):
        raise RuntimeError("kaput")


class Slow(SessionEvaluator):
    name = "slow"

    def evaluate_session(self, session):
        time.sleep(1)
        return 1.0


def registry() -> Registry:
    r = Registry()
    r.register(long_conversation)
    r.register(Boom)
    r.register(Slow)
    r.register(lambda trace: 1.0, name="per_trace")
    return r


def test_a_function_taking_session_is_a_session_evaluator_with_config_parameters():
    assert long_conversation.scope == "session"
    assert long_conversation.configurable() == {"max_turns": 3}
    assert long_conversation.with_params(max_turns=5).evaluate_session(session(4)).score == 1.0
    assert [t.trace.trace_id for t in session(2)] == ["t1", "t2"] and session(2)[1].trace


def test_a_session_evaluator_cannot_also_ask_for_trace_parameters():
    with pytest.raises(EvaluatorDefinitionError, match="takes `session` only"):
        evaluator(lambda session, inputs: 1.0)


def test_a_session_class_without_evaluate_session_is_rejected_at_registration():
    class Empty(SessionEvaluator):
        name = "empty"

    with pytest.raises(EvaluatorDefinitionError, match="evaluate_session"):
        Registry().register(Empty)


def test_one_toml_configures_both_kinds_and_each_runner_gets_its_own():
    config = parse_config({"evaluators": {
        "per_trace": {}, "long_conversation": {"params": {"max_turns": 1}},
        "short_only": {"use": "long_conversation", "threshold": 0.9},
    }})  # fmt: skip
    trace_side = build_evaluators(config, registry())
    assert [c.name for c in trace_side] == ["per_trace"]
    session_side = build_session_evaluators(config, registry())
    assert [c.name for c in session_side] == ["long_conversation", "short_only"]
    results = SessionRunner(session_side).score([session(2)])[0]
    assert [(r.evaluator, r.score, r.passed) for r in results] == [
        ("long_conversation", 0.0, False),
        ("short_only", 1.0, True),
    ]
    # the trace runner never hands a trace to a session evaluator
    assert [r.evaluator for r in EvaluationRunner(trace_side).score([Trace(trace_id="x")])[0]] == [
        "per_trace"
    ]


def test_a_raising_or_hanging_session_evaluator_yields_an_error_result_for_itself_only():
    config = parse_config({"evaluators": {
        "boom": {}, "slow": {"timeout_seconds": 0.1}, "long_conversation": {},
    }})  # fmt: skip
    runner = SessionRunner(build_session_evaluators(config, registry()))
    results = {r.evaluator: r for r in runner.score([session(1), session(5, "s2")])[1]}
    assert "kaput" in results["boom"].error
    assert "timed out" in results["slow"].error
    assert results["long_conversation"].score == 0.0 and results["long_conversation"].error is None
    runner.close()


def test_sampling_is_by_session_id_and_filters_read_the_first_turn_tags():
    config = parse_config({"evaluators": {
        "long_conversation": {"sample_rate": 0.5, "filter": {"tags": {"env": "prod"}}},
    }})  # fmt: skip
    (configured,) = build_session_evaluators(config, registry())
    first = SessionTurn(trace=Trace(trace_id="t", tags={"env": "prod"}))
    prod = [Session(session_id=f"s{i}", turns=[first]) for i in range(200)]
    chosen = [s.session_id for s in prod if configured.selects(s)]
    assert 60 < len(chosen) < 140
    assert chosen == [s.session_id for s in prod if configured.selects(s)]  # stable
    assert not configured.selects(session(1))  # no env=prod tag


def test_the_default_session_set_is_installed_through_entry_points():
    from evaluators import discover

    names = discover().default_names("session")
    assert names == [
        "session_volume", "session_latency", "session_cost", "session_error_rate",
        "conversation_frustration", "goal_completion", "session_safety",
    ]  # fmt: skip


def test_run_session_evaluator_runs_one_evaluator_over_one_session_without_kafka():
    from pipeline.testing import run_session_evaluator

    turns = [{"trace_id": "t1", "inputs": "hi", "outputs": "hello"},
             {"trace_id": "t2", "inputs": "what time is it?", "outputs": "Noon."}]  # fmt: skip
    assert run_session_evaluator(long_conversation, turns, max_turns=1)[0].passed is False
    assert run_session_evaluator(long_conversation, turns)[0].passed is True
    (goal,) = run_session_evaluator("goal_completion", turns)
    assert goal.label == "completed" and goal.rationale.startswith("turn 2 answered")
