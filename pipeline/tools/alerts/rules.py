"""Alert rules over the metrics topic: merge partial window records, evaluate, fire once.

Pure logic, no Kafka: ``pipeline.cli.alerts`` feeds it records and ships what it returns.
The metrics topic carries several *partial* records per ``app|window_start`` (one per
source partition and commit, see ``schemas.MetricsRecord``), so nothing here trusts a
single record's ratios or percentiles: counts are summed, ratios rebuilt from counts,
percentiles estimated from the merged latency histogram. What is exact and what is
estimated is listed in docs/alerts.md.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.config import read_toml
from evaluators.exceptions import ConfigError
from pipeline.evaluate.sketch import merge_bins, score_quantile, sketch_quantile
from pipeline.exceptions import PipelineError
from schemas import MetricsRecord
from schemas._base import Message
from schemas.metrics import LATENCY_BUCKETS_MS

ALERT_SCHEMA_VERSION = 1

TRACE_METRICS = (
    "trace_count",
    "error_count",
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
EVALUATOR_FIELDS = ("pass_rate", "mean_score", "error_count", "error_rate", "evaluations", "scored")
_EVALUATOR_METRIC = re.compile(
    r"^evaluators\.([^.]+)\.(" + "|".join(EVALUATOR_FIELDS) + r"|score_p\d{1,2})$"
)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


class AlertConfigError(PipelineError):
    """An ``[[alerts]]`` rule is invalid; the message names the file, rule and key."""


class AlertRule(BaseModel):
    """One ``[[alerts]]`` table. ``app = "*"`` evaluates the rule for every app separately."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    metric: str
    app: str = "*"
    window: timedelta = timedelta(minutes=5)
    comparison: Literal["<", "<=", ">", ">=", "==", "!="]
    threshold: float
    min_count: int = Field(default=1, ge=0)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value in TRACE_METRICS or _EVALUATOR_METRIC.match(value):
            return value
        raise ValueError(
            f"unknown metric {value!r}: use one of {', '.join(TRACE_METRICS)}"
            f" or evaluators.<name>.<{'|'.join(EVALUATOR_FIELDS)}|score_pNN>"
        )

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _DURATION.match(value)
            if not match or int(match.group(1)) == 0:
                raise ValueError(f"invalid window {value!r}: use e.g. 30s, 5m, 1h, 1d")
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        return value

    def applies_to(self, app: str) -> bool:
        return self.app in ("*", app)

    def breached(self, value: float) -> bool:
        return _COMPARE[self.comparison](value, self.threshold)


class AlertMessage(Message):
    """What goes to the alerts topic (key ``rule|app``) and, as the same JSON, the webhook."""

    schema_version: int = ALERT_SCHEMA_VERSION
    rule: str
    app: str
    metric: str
    value: float
    threshold: float
    comparison: str
    count: int
    window_start: datetime
    window_end: datetime
    state: Literal["firing", "resolved"]
    fired_at: datetime

    @property
    def key(self) -> str:
        return f"{self.rule}|{self.app}"


def load_alert_rules(path: str | Path) -> list[AlertRule]:
    """The ``[[alerts]]`` array of an evaluator TOML; other tables are not looked at."""
    try:
        data = read_toml(path)
    except ConfigError as exc:
        raise AlertConfigError(str(exc)) from None
    return parse_alert_rules(data.get("alerts", []), origin=str(path))


def parse_alert_rules(tables: Any, origin: str = "<config>") -> list[AlertRule]:
    if not isinstance(tables, list):
        raise AlertConfigError(f"{origin}: alerts must be an array of tables ([[alerts]])")
    rules: list[AlertRule] = []
    for index, table in enumerate(tables):
        where = f"{origin}: alerts[{index}]"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            where += f" ({table['name']})"
        try:
            rule = AlertRule.model_validate(table)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}" for e in exc.errors()
            )
            raise AlertConfigError(f"{where}: {problems}") from None
        if any(r.name == rule.name for r in rules):
            raise AlertConfigError(f"{where}: duplicate rule name {rule.name!r}")
        rules.append(rule)
    return rules


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
        match = _EVALUATOR_METRIC.match(metric)
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


class AlertEngine:
    """Merged windows per app, evaluated at each app's newest window end (event time)."""

    def __init__(self, rules: Iterable[AlertRule], firing: Iterable[str] = ()) -> None:
        self.rules = list(rules)
        self.firing: set[str] = set(firing)  # "rule|app" keys currently firing
        self._windows: dict[str, dict[datetime, tuple[datetime, WindowTotals]]] = {}
        self._horizon = max((r.window for r in self.rules), default=timedelta(0))

    def add(self, record: MetricsRecord, now: datetime | None = None) -> list[AlertMessage]:
        """Merge one partial record and return the state changes it causes."""
        windows = self._windows.setdefault(record.app, {})
        _, totals = windows.setdefault(record.window_start, (record.window_end, WindowTotals()))
        totals.add_record(record)
        newest = max(e for e, _ in windows.values())
        for start in [s for s, (e, _) in windows.items() if e <= newest - self._horizon]:
            del windows[start]  # older than every rule's window: never looked at again
        now = now or datetime.now(tz=UTC)
        changes = []
        for rule in self.rules:
            if rule.applies_to(record.app):
                change = self._evaluate(rule, record.app, newest, now)
                if change is not None:
                    changes.append(change)
        return changes

    def _evaluate(
        self, rule: AlertRule, app: str, end: datetime, now: datetime
    ) -> AlertMessage | None:
        covered = [
            (start, e, totals)
            for start, (e, totals) in self._windows[app].items()
            if e > end - rule.window
        ]
        merged = WindowTotals()
        for _, _, totals in covered:
            merged.add(totals)
        value, count = merged.value(rule.metric)
        if value is None or count < rule.min_count:
            return None  # not enough data to decide either way: keep the current state
        key = f"{rule.name}|{app}"
        breached = rule.breached(value)
        if breached == (key in self.firing):
            return None
        (self.firing.add if breached else self.firing.discard)(key)
        return AlertMessage(
            rule=rule.name,
            app=app,
            metric=rule.metric,
            value=value,
            threshold=rule.threshold,
            comparison=rule.comparison,
            count=count,
            window_start=min(s for s, _, _ in covered),
            window_end=max(e for _, e, _ in covered),
            state="firing" if breached else "resolved",
            fired_at=now,
        )
