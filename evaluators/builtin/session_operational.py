"""Operational session evaluators: volume (turns), latency, cost and error rate per session.

Scores follow the operational trace evaluators' convention: 1.0 within budget, then
``budget / actual``; default threshold 1.0, so ``passed`` means "within budget". Each
rationale names the turns that broke the budget.
"""

from __future__ import annotations

from evaluators.base import Outcome, Result
from evaluators.builtin._session_text import duration_seconds, is_error, turns_named
from evaluators.session import SessionEvaluator
from schemas.session import Session


def _budget_score(actual: float, budget: float) -> float:
    return 1.0 if actual <= budget else budget / actual


class SessionVolumeEvaluator(SessionEvaluator):
    """How long the conversation went: turns (and duration) against a budget of turns."""

    name = "session_volume"
    threshold = 1.0

    def __init__(self, max_turns: int = 30) -> None:
        if max_turns <= 0:
            raise ValueError("max_turns must be positive")
        self.max_turns = int(max_turns)

    def evaluate_session(self, session: Session) -> Outcome:
        turns = len(session)
        seconds = duration_seconds(session)
        return Result(
            score=_budget_score(turns, self.max_turns),
            label="within_budget" if turns <= self.max_turns else "over_budget",
            rationale=f"{turns} turns over {seconds:.0f} s (budget {self.max_turns} turns)",
            metadata={"turns": turns, "duration_seconds": seconds},
        )


class SessionLatencyEvaluator(SessionEvaluator):
    """Share of turns within the latency SLO; names the slow turns."""

    name = "session_latency"
    threshold = 1.0

    def __init__(self, slo_ms: float = 2000.0) -> None:
        if slo_ms <= 0:
            raise ValueError("slo_ms must be positive")
        self.slo_ms = float(slo_ms)

    def evaluate_session(self, session: Session) -> Outcome:
        timed = [(i, t.trace.latency_ms) for i, t in enumerate(session, 1)]
        timed = [(i, ms) for i, ms in timed if ms is not None]
        if not timed:
            return None
        slow = [(i, ms) for i, ms in timed if ms > self.slo_ms]
        total = sum(ms for _, ms in timed)
        mean = total / len(timed)
        if slow:
            worst = ", ".join(f"turn {i}: {ms:.0f} ms" for i, ms in slow[:5])
            why = f"{turns_named([i for i, _ in slow])} over the {self.slo_ms:.0f} ms SLO ({worst})"
        else:
            why = f"every turn within the {self.slo_ms:.0f} ms SLO"
        return Result(
            score=1.0 - len(slow) / len(timed),
            label="within_slo" if not slow else "over_slo",
            rationale=f"{why}; mean {mean:.0f} ms over {len(timed)} turns",
            metadata={
                "mean_latency_ms": mean,
                "max_latency_ms": max(ms for _, ms in timed),
                "total_latency_ms": total,
                "slow_turns": [i for i, _ in slow],
            },
        )


class SessionCostEvaluator(SessionEvaluator):
    """Total cost of the conversation (each trace's cost or its price-table estimate)."""

    name = "session_cost"
    threshold = 1.0

    def __init__(self, budget_usd: float = 0.10) -> None:
        if budget_usd <= 0:
            raise ValueError("budget_usd must be positive")
        self.budget_usd = float(budget_usd)

    def evaluate_session(self, session: Session) -> Outcome:
        costs = [(i, t.trace.cost_usd) for i, t in enumerate(session, 1)]
        known = [(i, c) for i, c in costs if c is not None]
        if not known:
            return Result(label="not_applicable", rationale="no turn has a cost or a price")
        total = sum(c for _, c in known)
        top, top_cost = max(known, key=lambda item: item[1])
        return Result(
            score=_budget_score(total, self.budget_usd),
            label="within_budget" if total <= self.budget_usd else "over_budget",
            rationale=(
                f"${total:.6f} over {len(known)} priced turns vs budget ${self.budget_usd:.6f};"
                f" most expensive turn {top} (${top_cost:.6f})"
            ),
            metadata={"cost_usd": total, "priced_turns": len(known)},
        )


class SessionErrorRateEvaluator(SessionEvaluator):
    """Share of turns that failed (status ERROR or a failing ``error`` result)."""

    name = "session_error_rate"
    threshold = 1.0

    def evaluate_session(self, session: Session) -> Outcome:
        failed = [i for i, t in enumerate(session, 1) if is_error(t)]
        rate = len(failed) / len(session)
        why = f"{turns_named(failed)} failed" if failed else "no turn failed"
        return Result(
            score=1.0 - rate,
            label="errors" if failed else "ok",
            rationale=f"{why} ({len(failed)} of {len(session)} turns)",
            metadata={"error_rate": rate, "error_turns": failed},
        )
