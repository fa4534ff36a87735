"""Summed figures of partial window records (``schemas.MetricsRecord``) of one app.

The metrics topic carries several partial records per ``app|window_start``; nothing here
trusts a single record's ratios or percentiles: counts are summed, ratios rebuilt from
counts, quantiles read from the merged DDSketch bins (pipeline/evaluate/sketch.py; the
latency histogram only for records written before the sketch existed; docs/alerts.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.evaluate.sketch import merge_bins, score_quantile, sketch_quantile
from pipeline.tools.alerts.rules import EVALUATOR_METRIC
from schemas import MetricsRecord
from schemas.metrics import LATENCY_BUCKETS_MS


@dataclass
class _EvalTotals:
    evaluations: int = 0
    scored: int = 0
    score_sum: float = 0.0
    passed: float = 0.0  # pass_rate * scored, summed: see docs/alerts.md
    pass_weight: int = 0
    errors: int = 0
    score_sketch: dict[int, int] = field(default_factory=dict)  # merged bins of 1 + score


@dataclass
class WindowTotals:
    """Summed figures of one or more windows of one app."""

    traces: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    histogram: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    sketch: dict[int, int] = field(default_factory=dict)  # DDSketch bins, merged
    unsketched: int = 0  # latencies of records written before latency_sketch existed
    evaluators: dict[str, _EvalTotals] = field(default_factory=dict)

    def add_record(self, record: MetricsRecord) -> None:
        self.traces += record.trace_count
        self.errors += record.error_count
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cost_usd += record.cost_usd
        for i, n in enumerate(record.latency_histogram[: len(self.histogram)]):
            self.histogram[i] += n
        merge_bins(self.sketch, record.latency_sketch)
        if not record.latency_sketch:
            self.unsketched += sum(record.latency_histogram)
        for name, agg in record.evaluators.items():
            tot = self.evaluators.setdefault(name, _EvalTotals())
            tot.evaluations += agg.evaluations
            tot.scored += agg.scored
            tot.errors += agg.error_count
            merge_bins(tot.score_sketch, agg.score_sketch)
            if agg.mean_score is not None:
                tot.score_sum += agg.mean_score * agg.scored
            if agg.pass_rate is not None and agg.scored:
                tot.passed += agg.pass_rate * agg.scored
                tot.pass_weight += agg.scored

    def add(self, other: WindowTotals) -> None:
        self.traces += other.traces
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]
        merge_bins(self.sketch, other.sketch)
        self.unsketched += other.unsketched
        for name, src in other.evaluators.items():
            tot = self.evaluators.setdefault(name, _EvalTotals())
            tot.evaluations += src.evaluations
            tot.scored += src.scored
            tot.score_sum += src.score_sum
            tot.passed += src.passed
            tot.pass_weight += src.pass_weight
            tot.errors += src.errors
            merge_bins(tot.score_sketch, src.score_sketch)

    def value(self, metric: str) -> tuple[float | None, int]:
        """(value, how many observations it rests on); value None when there is no data."""
        match = EVALUATOR_METRIC.match(metric)
        if match:
            return self._evaluator_value(match.group(1), match.group(2))
        if metric.startswith("latency_p"):
            quantile = float(metric[len("latency_p") : -len("_ms")]) / 100
            if self.sketch and not self.unsketched:  # the merged sketch: within 1%
                return sketch_quantile(self.sketch, quantile), sum(self.sketch.values())
            return estimate_percentile(self.histogram, quantile), sum(self.histogram)
        if metric == "error_rate":
            return (self.errors / self.traces if self.traces else None), self.traces
        plain = {
            "trace_count": self.traces,
            "error_count": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
        }
        return float(plain[metric]), self.traces

    def _evaluator_value(self, name: str, what: str) -> tuple[float | None, int]:
        tot = self.evaluators.get(name)
        if tot is None:
            return None, 0
        if what.startswith("score_p"):  # the merged score sketch: within 0.02
            quantile = int(what[len("score_p") :]) / 100
            return score_quantile(tot.score_sketch, quantile), sum(tot.score_sketch.values())
        if what == "pass_rate":
            return (tot.passed / tot.pass_weight if tot.pass_weight else None), tot.pass_weight
        if what == "mean_score":
            return (tot.score_sum / tot.scored if tot.scored else None), tot.scored
        if what == "error_rate":
            rate = tot.errors / tot.evaluations if tot.evaluations else None
            return rate, tot.evaluations
        counts = {"error_count": tot.errors, "evaluations": tot.evaluations, "scored": tot.scored}
        return float(counts[what]), tot.evaluations


def estimate_percentile(histogram: list[int], quantile: float) -> float | None:
    """Linear interpolation inside the bucket holding the rank (lower edge of bucket 0 is 0).

    The last bucket has no upper bound: a rank that falls there reports its lower edge.
    """
    total = sum(histogram)
    if not total:
        return None
    rank = quantile * total
    seen = 0
    for index, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = LATENCY_BUCKETS_MS[index - 1] if index else 0.0
            if index >= len(LATENCY_BUCKETS_MS):
                return float(low)
            high = LATENCY_BUCKETS_MS[index]
            return float(low + (high - low) * max(rank - seen, 0) / count)
        seen += count
    return float(LATENCY_BUCKETS_MS[-1])
