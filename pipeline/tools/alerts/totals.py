"""Alert metrics read from merged window totals (``pipeline.evaluate.totals``).

The metrics topic carries several partial records per ``app|window_start``; the engine merges
them with the worker's own aggregate, :class:`~pipeline.evaluate.totals.WindowTotals`, so
nothing here trusts a single record's ratios or percentiles: counts are summed, ratios
rebuilt from counts, quantiles read from the merged DDSketch bins (pipeline/evaluate/sketch.py;
the latency histogram only for records written before the sketch existed; docs/alerts.md).
"""

from __future__ import annotations

from pipeline.evaluate.sketch import score_quantile, sketch_quantile
from pipeline.evaluate.totals import WindowTotals
from pipeline.tools.alerts.rules import EVALUATOR_METRIC
from schemas.metrics import LATENCY_BUCKETS_MS

__all__ = ["WindowTotals", "estimate_percentile", "metric_value"]


def metric_value(totals: WindowTotals, metric: str) -> tuple[float | None, int]:
    """(value, how many observations it rests on); value None when there is no data."""
    match = EVALUATOR_METRIC.match(metric)
    if match:
        return _evaluator_value(totals, match.group(1), match.group(2))
    if metric.startswith("latency_p"):
        quantile = float(metric[len("latency_p") : -len("_ms")]) / 100
        if totals.sketch and not totals.unsketched:  # the merged sketch: within 1%
            return sketch_quantile(totals.sketch, quantile), sum(totals.sketch.values())
        return estimate_percentile(totals.histogram, quantile), sum(totals.histogram)
    if metric == "error_rate":
        return (totals.errors / totals.traces if totals.traces else None), totals.traces
    plain = {
        "trace_count": totals.traces,
        "error_count": totals.errors,
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cost_usd": totals.cost_usd,
    }
    return float(plain[metric]), totals.traces


def _evaluator_value(totals: WindowTotals, name: str, what: str) -> tuple[float | None, int]:
    tot = totals.evaluators.get(name)
    if tot is None:
        return None, 0
    if what.startswith("score_p"):  # the merged score sketch: within 0.02
        quantile = int(what[len("score_p") :]) / 100
        return score_quantile(tot.score_sketch, quantile), sum(tot.score_sketch.values())
    if what == "pass_rate":
        return tot.pass_rate, tot.pass_weight
    if what == "mean_score":
        return tot.mean_score, tot.scored
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
