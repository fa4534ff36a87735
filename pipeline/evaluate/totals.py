"""The one mergeable window aggregate: summed counts, histogram and DDSketch bins.

The worker adds scored traces to a :class:`WindowTotals` per window and source partition and
turns it into a partial ``schemas.MetricsRecord`` at each commit (``windows.py``); a reader of
the metrics topic (``evalstream alerts``) turns each partial record back into totals and
merges them with :meth:`WindowTotals.add`. Both sides sum the same fields in the same code, so
nothing trusts one record's ratios or percentiles: counts are summed, ratios rebuilt from
counts, quantiles read from the merged sketches (``sketch.py``).

A record does not carry how many results had a pass/fail, so totals read back from records
weigh ``pass_rate`` by ``scored`` (docs/alerts.md); the worker's own totals count the
results with a pass/fail.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, fields
from typing import Any

from pipeline.evaluate.scorer import ScoredRecord
from pipeline.evaluate.sketch import latency_key, merge_bins, score_key
from schemas import EvaluatorAggregate, MetricsRecord, TraceStatus
from schemas.metrics import LATENCY_BUCKETS_MS


def _empty_histogram() -> list[int]:
    return [0] * (len(LATENCY_BUCKETS_MS) + 1)


def _add_fields(into: Any, other: Any) -> None:
    """Add every field of ``other`` to ``into`` (both the same dataclass), so no figure can
    be left out of a merge: numbers are summed, histograms bucket by bucket, sketch bins by
    key, evaluator totals by name."""
    for name in (f.name for f in fields(into)):
        mine, theirs = getattr(into, name), getattr(other, name)
        if isinstance(mine, list):
            setattr(into, name, [a + b for a, b in zip(mine, theirs, strict=True)])
        elif name == "evaluators":
            for evaluator, totals in theirs.items():
                mine.setdefault(evaluator, EvaluatorTotals()).add(totals)
        elif isinstance(mine, dict):
            merge_bins(mine, theirs)
        else:
            setattr(into, name, mine + theirs)


@dataclass
class EvaluatorTotals:
    """One evaluator's summed results."""

    evaluations: int = 0
    scored: int = 0
    score_sum: float = 0.0
    passed: float = 0.0  # results that passed; read from records: pass_rate * scored
    pass_weight: int = 0  # results with a pass/fail; read from records: scored
    errors: int = 0
    score_sketch: dict[int, int] = field(default_factory=dict)  # bins of 1 + score

    def add_result(self, score: float | None, passed: bool | None, error: str | None) -> None:
        self.evaluations += 1
        if error is not None:
            self.errors += 1
        if score is not None:
            self.scored += 1
            self.score_sum += score
            key = score_key(score)
            self.score_sketch[key] = self.score_sketch.get(key, 0) + 1
        if passed is not None:
            self.pass_weight += 1
            self.passed += int(passed)

    def add(self, other: EvaluatorTotals) -> None:
        _add_fields(self, other)

    @property
    def mean_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.pass_weight if self.pass_weight else None

    def aggregate(self) -> EvaluatorAggregate:
        return EvaluatorAggregate(
            evaluations=self.evaluations,
            scored=self.scored,
            mean_score=self.mean_score,
            pass_rate=self.pass_rate,
            error_count=self.errors,
            score_sketch=dict(self.score_sketch),
        )

    @classmethod
    def of_aggregate(cls, agg: EvaluatorAggregate) -> EvaluatorTotals:
        weighted = agg.pass_rate is not None and agg.scored
        return cls(
            evaluations=agg.evaluations,
            scored=agg.scored,
            score_sum=agg.mean_score * agg.scored if agg.mean_score is not None else 0.0,
            passed=agg.pass_rate * agg.scored if weighted else 0.0,
            pass_weight=agg.scored if weighted else 0,
            errors=agg.error_count,
            score_sketch=dict(agg.score_sketch),
        )


@dataclass
class WindowTotals:
    """Summed figures of one or more windows (or parts of one) of one app."""

    traces: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    histogram: list[int] = field(default_factory=_empty_histogram)
    sketch: dict[int, int] = field(default_factory=dict)  # DDSketch bins of the latencies
    unsketched: int = 0  # latencies of records written before latency_sketch existed
    evaluators: dict[str, EvaluatorTotals] = field(default_factory=dict)

    def add_trace(self, record: ScoredRecord) -> None:
        """One scored trace (the worker's side)."""
        trace = record.trace
        self.traces += 1
        self.errors += int(trace.status is TraceStatus.ERROR)
        latency = trace.latency_ms
        if latency is not None:
            self.histogram[bisect.bisect_left(LATENCY_BUCKETS_MS, latency)] += 1
            key = latency_key(latency)
            self.sketch[key] = self.sketch.get(key, 0) + 1
        self.input_tokens += trace.input_tokens or 0
        self.output_tokens += trace.output_tokens or 0
        self.cost_usd += record.cost_usd or 0.0
        for result in record.results:
            tally = self.evaluators.get(result.evaluator)
            if tally is None:
                tally = self.evaluators[result.evaluator] = EvaluatorTotals()
            tally.add_result(result.score, result.passed, result.error)

    def add(self, other: WindowTotals) -> None:
        """Merge ``other`` into these totals: every figure is a sum."""
        _add_fields(self, other)

    def add_record(self, record: MetricsRecord) -> None:
        """Merge one partial record of the metrics topic."""
        self.add(WindowTotals.of_record(record))

    @classmethod
    def of_record(cls, record: MetricsRecord) -> WindowTotals:
        """The totals a partial record stands for (its latency histogram padded or cut to
        today's buckets)."""
        histogram = _empty_histogram()
        for i, n in enumerate(record.latency_histogram[: len(histogram)]):
            histogram[i] = n
        return cls(
            traces=record.trace_count,
            errors=record.error_count,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cost_usd=record.cost_usd,
            histogram=histogram,
            sketch=dict(record.latency_sketch),
            unsketched=0 if record.latency_sketch else sum(record.latency_histogram),
            evaluators={
                name: EvaluatorTotals.of_aggregate(agg) for name, agg in record.evaluators.items()
            },
        )

    def evaluator_aggregates(self) -> dict[str, EvaluatorAggregate]:
        """Per evaluator, by name, as a record carries them."""
        return {name: t.aggregate() for name, t in sorted(self.evaluators.items())}
