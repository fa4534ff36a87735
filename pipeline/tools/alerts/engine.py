"""The alert engine: merged windows per app, each rule evaluated, every state change once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pipeline.evaluate.totals import WindowTotals
from pipeline.tools.alerts.rules import AlertMessage, AlertRule
from pipeline.tools.alerts.totals import metric_value
from schemas import MetricsRecord


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
        value, count = metric_value(merged, rule.metric)
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
