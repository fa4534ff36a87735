"""The cascade's Prometheus counters are fed from result metadata by the observer."""

from __future__ import annotations

from prometheus_client import REGISTRY

from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.worker.observers import PrometheusObserver
from schemas import EvaluationResult, Trace

EVALUATOR = "safety-tier-metrics-test"  # a name no other test uses: counters are global


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _record(*metadata: dict) -> ScoredRecord:
    results = [EvaluationResult(evaluator=EVALUATOR, score=0.9, metadata=meta) for meta in metadata]
    source = SourcedTrace(Trace(trace_id="t1"), "traces", 0, 1)
    return ScoredRecord(source=source, results=results, cost_usd=None)


def test_results_by_tier_and_spent_budget_are_counted():
    tier = "evalstream_results_by_tier_total"
    spent = "evalstream_judge_budget_exhausted_total"
    before = {
        t: _value(tier, evaluator=EVALUATOR, tier=t) for t in ("lexical", "encoder", "llm", "other")
    }
    before_spent = _value(spent, evaluator=EVALUATOR)
    PrometheusObserver().on_scored([
        _record({"tier": "lexical"}, {"tier": "encoder", "budget_exhausted": True}),
        _record({"tier": "encoder", "budget_exhausted": True}, {"tier": "llm"}),
        _record({"tier": "made-up"}, {}, {"budget_exhausted": "yes"}),  # not counted as spent
    ])  # fmt: skip
    after = {t: _value(tier, evaluator=EVALUATOR, tier=t) for t in before}
    assert {t: after[t] - before[t] for t in after} == {
        "lexical": 1, "encoder": 2, "llm": 1, "other": 1
    }  # fmt: skip
    assert _value(spent, evaluator=EVALUATOR) - before_spent == 2
