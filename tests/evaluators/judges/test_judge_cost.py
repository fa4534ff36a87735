"""What the judge's results say it cost equals what its endpoint billed (issue 16.9).

Before: identical prompts in one batch were sent once, but every trace reported the full
tokens and cost with ``cached: false``, and the config's ``[pricing.<model>]`` table never
reached the judge, so its cost was null.
"""

from __future__ import annotations

import uuid

import pytest

from evaluators import EvaluationRunner
from evaluators.config import parse_config
from evaluators.judges import JudgeBatchError, LLMJudge
from evaluators.registry import discover
from evaluators.runner import build_evaluators
from schemas import Trace
from tests.evaluators.judges.stub_server import Reply, running_stub, verdict_reply

FAST = {"backoff_seconds": 0.01, "max_backoff_seconds": 0.05}
PRICE = {"input_per_million": 1.0, "output_per_million": 2.0}
PER_REQUEST_USD = (100 * 1.0 + 20 * 2.0) / 1e6  # the stub bills 100 prompt + 20 output tokens


def trace(question: str, answer: str = "Paris", expected: str = "Paris") -> Trace:
    return Trace(
        trace_id=uuid.uuid4().hex,
        inputs={"question": question},
        outputs=answer,
        expectations={"expected_response": expected},
    )


def spend(results) -> list[tuple[float | None, bool]]:
    return [(r.metadata["cost_usd"], r.metadata["cached"]) for r in results]


def test_duplicates_in_a_batch_report_one_request_and_zero_for_the_others() -> None:
    model = f"acme-{uuid.uuid4().hex[:6]}"
    with (
        running_stub() as stub,
        LLMJudge(
            kind="correctness", base_url=stub.url, model=model, prices={model: PRICE}, **FAST
        ) as judge,
    ):
        batch = [trace("capital of France?"), trace("capital of France?"), trace("of Spain?")]
        results = judge.evaluate_batch(batch)
        assert stub.count == 2
    assert spend(results) == [
        (pytest.approx(PER_REQUEST_USD), False),
        (0.0, True),
        (pytest.approx(PER_REQUEST_USD), False),
    ]
    assert results[1].metadata["input_tokens"] == 0 and results[1].score == results[0].score
    assert sum(spend(results)[i][0] for i in range(3)) == pytest.approx(
        stub.count * PER_REQUEST_USD
    )


def test_a_failed_batch_hands_the_cost_to_one_trace_only() -> None:
    def failing_on_bad(request: dict) -> Reply:
        if "bad" in request["messages"][-1]["content"]:
            return Reply(500, "always broken")
        return verdict_reply(request)

    model = f"acme-{uuid.uuid4().hex[:6]}"
    with (
        running_stub() as stub,
        LLMJudge(
            kind="correctness",
            base_url=stub.url,
            model=model,
            prices={model: PRICE},
            max_retries=0,
            **FAST,
        ) as judge,
    ):
        stub.responder = failing_on_bad
        same = [trace("capital of France?"), trace("capital of France?")]
        with pytest.raises(JudgeBatchError):
            judge.evaluate_batch([*same, trace("bad question")])
        retried = [judge.evaluate(t) for t in same]  # the runner's per-trace retry
        assert stub.count == 2
    assert spend(retried) == [(pytest.approx(PER_REQUEST_USD), False), (0.0, True)]


def test_config_pricing_prices_the_judge_and_costs_add_up_to_the_bill() -> None:
    model = f"acme-{uuid.uuid4().hex[:6]}"
    with running_stub() as stub:
        config = parse_config(
            {
                "evaluators": {
                    "correctness": {
                        "params": {
                            "backend": "llm",
                            "judge": {"base_url": stub.url, "model": model, **FAST},
                        }
                    }
                },
                "pricing": {model: PRICE},
            }
        )
        runner = EvaluationRunner(build_evaluators(config, discover()))
        try:
            batch = [trace("q1?"), trace("q1?"), trace("q2?"), trace("q3?", answer="Rome")]
            rows = runner.score(batch)
        finally:
            runner.close()
        billed = stub.count * PER_REQUEST_USD
        assert stub.count == 3
    results = [r[0] for r in rows]
    assert all(r.error is None for r in results), [r.error for r in results]
    assert [c for _, c in spend(results)] == [False, True, False, False]
    assert sum(r.metadata["cost_usd"] for r in results) == pytest.approx(billed)
