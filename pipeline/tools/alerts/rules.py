"""Alert rules over the metrics topic: the rule file, its checks, and the alert message.

Pure logic, no Kafka. ``engine`` merges partial window records with the worker's own
aggregate (``pipeline.evaluate.totals``), evaluates the rules over them (``totals`` reads a
metric) and fires once; ``runner`` feeds it records and ships what it returns. The metrics
topic carries several *partial* records per ``app|window_start`` (one per source partition
and commit, see ``schemas.MetricsRecord``), so nothing here trusts a single record's ratios
or percentiles: counts are summed, ratios rebuilt from counts, percentiles read from the
merged sketches. What is exact and what is estimated is listed in docs/alerts.md.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluators.config import read_toml
from evaluators.exceptions import ConfigError
from pipeline.exceptions import PipelineError
from schemas._base import Message

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
EVALUATOR_METRIC = re.compile(
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
        if value in TRACE_METRICS or EVALUATOR_METRIC.match(value):
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
