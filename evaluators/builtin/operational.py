"""Operational evaluators: latency, error, token usage and cost.

Scores follow the house convention (in [0, 1], higher is better): 1.0 within budget, then
``budget / actual`` so a trace twice over budget scores 0.5. Their default threshold is 1.0,
so ``passed`` means "within budget".
"""

from __future__ import annotations

from evaluators.base import Evaluator, Outcome, Result
from evaluators.pricing import PriceTable
from schemas import Trace, TraceStatus


def _budget_score(actual: float, budget: float) -> float:
    if actual <= budget:
        return 1.0
    return budget / actual


class LatencyEvaluator(Evaluator):
    """Is the end-to-end latency within the SLO?"""

    name = "latency"
    threshold = 1.0

    def __init__(self, slo_ms: float = 2000.0) -> None:
        if slo_ms <= 0:
            raise ValueError("slo_ms must be positive")
        self.slo_ms = float(slo_ms)

    def evaluate(self, trace: Trace) -> Outcome:
        if trace.latency_ms is None:
            return None
        score = _budget_score(trace.latency_ms, self.slo_ms)
        verdict = "within" if score == 1.0 else "over"
        return Result(
            score=score,
            label=f"{verdict}_slo",
            rationale=f"{trace.latency_ms:.0f} ms vs SLO {self.slo_ms:.0f} ms",
            metadata={"latency_ms": trace.latency_ms, "slo_ms": self.slo_ms},
        )


class ErrorEvaluator(Evaluator):
    """Did the trace succeed? Fails on status ERROR and reports the error text."""

    name = "error"
    threshold = 1.0

    def evaluate(self, trace: Trace) -> Outcome:
        if trace.status is TraceStatus.ERROR:
            return Result(score=0.0, label="error", rationale=trace.error or "status ERROR")
        return Result(score=1.0, label="ok")


class TokenUsageEvaluator(Evaluator):
    """Is the total token count within budget?"""

    name = "token_usage"
    threshold = 1.0

    def __init__(self, max_total_tokens: int = 8000) -> None:
        if max_total_tokens <= 0:
            raise ValueError("max_total_tokens must be positive")
        self.max_total_tokens = int(max_total_tokens)

    def evaluate(self, trace: Trace) -> Outcome:
        if trace.usage is None or trace.usage.total_tokens is None:
            return None
        total = trace.usage.total_tokens
        return Result(
            score=_budget_score(total, self.max_total_tokens),
            label="within_budget" if total <= self.max_total_tokens else "over_budget",
            rationale=f"{total} tokens vs budget {self.max_total_tokens}",
            metadata={
                "input_tokens": trace.input_tokens,
                "output_tokens": trace.output_tokens,
                "total_tokens": total,
            },
        )


class CostEvaluator(Evaluator):
    """Is the cost of the trace within budget? Uses ``cost_usd`` or the price table."""

    name = "cost"
    threshold = 1.0

    def __init__(
        self,
        budget_usd: float = 0.01,
        prices: dict[str, dict[str, float]] | None = None,
    ) -> None:
        if budget_usd <= 0:
            raise ValueError("budget_usd must be positive")
        self.budget_usd = float(budget_usd)
        try:
            table = {
                name: (float(p["input_per_million"]), float(p["output_per_million"]))
                for name, p in (prices or {}).items()
            }
        except KeyError as exc:  # reported as a config error, like any other bad parameter
            raise ValueError(f"prices: every model needs {exc.args[0]}") from None
        self.prices = PriceTable(table)

    def evaluate(self, trace: Trace) -> Outcome:
        estimate = self.prices.estimate(trace)
        if estimate.cost_usd is None:
            return Result(label="not_applicable", rationale=estimate.reason)
        cost = estimate.cost_usd
        return Result(
            score=_budget_score(cost, self.budget_usd),
            label="within_budget" if cost <= self.budget_usd else "over_budget",
            rationale=f"${cost:.6f} ({estimate.source}) vs budget ${self.budget_usd:.6f}",
            metadata={"cost_usd": cost, "cost_source": estimate.source},
        )
