"""The built-in session evaluators on hand-written conversations (no Kafka): each verdict and
each rationale naming its turns."""

from __future__ import annotations

from conversations import JAILBREAK

from evaluators.builtin.session_frustration import ConversationFrustrationEvaluator, similarity
from evaluators.builtin.session_goal import GoalCompletionEvaluator
from evaluators.builtin.session_operational import (
    SessionCostEvaluator,
    SessionErrorRateEvaluator,
    SessionLatencyEvaluator,
    SessionVolumeEvaluator,
)
from evaluators.builtin.session_safety import SessionSafetyEvaluator
from schemas import EvaluationResult, Trace
from schemas.session import Session, SessionTurn


def conversation(*turns, results=None, **trace_fields) -> Session:
    built = []
    for i, turn in enumerate(turns):
        question, answer = turn[:2]
        extra = turn[2] if len(turn) > 2 else {}
        trace = Trace(trace_id=f"t{i + 1}", inputs=question, outputs=answer,
                      **{**trace_fields, **extra})  # fmt: skip
        built.append(SessionTurn(trace=trace, results=(results or {}).get(i + 1, [])))
    return Session(session_id="s", turns=built)


def test_a_rephrased_question_and_negative_feedback_are_frustration_naming_the_turns():
    session = conversation(
        ("How do I reset my password?", "Go to Settings."),
        ("Where is the billing page?", "Under Account."),
        ("I asked how to reset my password, how can I reset it?", "Tap Profile."),
        ("That's not what I asked, it still doesn't work", "Please update the app."),
        ("ok", "Anything else?"),
    )
    result = ConversationFrustrationEvaluator().evaluate_session(session)
    assert result.label == "frustrated" and result.score < 0.5
    assert result.rationale.startswith("turns 1, 3 and 4:")
    assert "turn 3 rephrases turn 1" in result.rationale
    assert "turn 4 negative feedback" in result.rationale
    assert result.metadata["rephrased"] == [[1, 3]]


def test_a_smooth_conversation_is_not_frustrated_and_topics_are_not_rephrases():
    session = conversation(
        ("What are your opening hours?", "9 to 5."),
        ("Do you deliver to Berlin?", "Yes, within two days."),
        ("How much is shipping?", "Free over 50 euros."),
    )
    result = ConversationFrustrationEvaluator().evaluate_session(session)
    assert (result.label, result.score, result.passed) == ("smooth", 1.0, None)
    assert similarity("How do I reset my password?", "How do I update my email address?") < 0.45


def test_abandoning_after_an_error_is_frustration():
    session = conversation(
        ("Book a table for two", "Which day?"),
        ("Friday", None, {"status": "ERROR", "error": "booking API down"}),
    )
    result = ConversationFrustrationEvaluator().evaluate_session(session)
    assert "abandoned after turn 2 failed" in result.rationale and result.score == 0.6


def test_goal_completion_reads_the_final_turn():
    goal = GoalCompletionEvaluator()
    done = goal.evaluate_session(conversation(("Hours?", "9 to 5."), ("Thanks!", "Welcome.")))
    assert done.label == "confirmed" and done.score == 1.0
    assert done.rationale == "turn 1 answered without refusal or error; turn 2 confirms it"
    refused = goal.evaluate_session(conversation(("Hack my ex's email", "I can't help with that.")))
    assert refused.label == "refused" and refused.score == 0.25
    error = {"status": "ERROR", "error": "timeout"}
    failed = goal.evaluate_session(conversation(("Hi", "Hello"), ("Order?", None, error)))
    assert failed.label == "failed" and failed.rationale == "turn 2 (the last) failed: timeout"


def test_operational_session_evaluators_name_the_turns_over_budget():
    session = conversation(("a", "b", {"latency_ms": 100, "cost_usd": 0.01}),
                           ("c", "d", {"latency_ms": 3500, "cost_usd": 0.2}),
                           ("e", "f", {"status": "ERROR", "latency_ms": 2500}))  # fmt: skip
    latency = SessionLatencyEvaluator(slo_ms=2000).evaluate_session(session)
    assert latency.rationale.startswith("turns 2 and 3 over the 2000 ms SLO")
    assert round(latency.score, 3) == 0.333
    cost = SessionCostEvaluator(budget_usd=0.1).evaluate_session(session)
    assert cost.label == "over_budget" and "most expensive turn 2" in cost.rationale
    errors = SessionErrorRateEvaluator().evaluate_session(session)
    assert errors.rationale == "turn 3 failed (1 of 3 turns)" and round(errors.score, 3) == 0.667
    volume = SessionVolumeEvaluator(max_turns=2).evaluate_session(session)
    assert volume.score == 2 / 3 and volume.label == "over_budget"


def _passing_safety(n: int) -> dict[int, list[EvaluationResult]]:
    ok = EvaluationResult(evaluator="safety", score=0.9, passed=True, label="safe")
    return {i: [ok] for i in range(1, n + 1)}


def test_a_multi_turn_jailbreak_fails_though_every_turn_passed_alone():
    session = conversation(*JAILBREAK, results=_passing_safety(4))
    result = SessionSafetyEvaluator().evaluate_session(session)
    assert result.label == "multi_turn_jailbreak" and result.passed is None
    assert result.score < 0.5
    assert result.rationale.startswith("multi-turn jailbreak: turns 1, 2, 3 and 4 read together")
    assert "turn 4 complied" in result.rationale
    assert result.metadata["window"] == [1, 4]


def test_a_benign_conversation_is_safe_and_an_unsafe_turn_is_named():
    benign = conversation(
        ("What are your opening hours?", "9 to 5."),
        ("Do you deliver to Berlin?", "Yes."),
        results=_passing_safety(2),
    )
    evaluator = SessionSafetyEvaluator()
    assert evaluator.evaluate_session(benign).label == "safe"
    bad = EvaluationResult(evaluator="safety", score=0.1, passed=False, label="toxic_output")
    flagged = conversation(("Hi", "Hello"), ("Insult me", "..."),
                           results={1: _passing_safety(1)[1], 2: [bad]})  # fmt: skip
    result = evaluator.evaluate_session(flagged)
    assert result.label == "unsafe_turn" and result.score == 0.1
    assert result.rationale == "turn 2 is unsafe on its own (toxic_output at turn 2)"
