"""The overview's totals and time series (volume, error rate, latency p50/p95, cost, tokens),
summed from remembered per-minute summaries of each hour partition.

Counts and sums add up; percentiles do not, so each minute keeps its latencies (8 bytes a
trace, no other column) and a bucket's p50/p95 is computed from the exact values of its
minutes, with DuckDB's ``quantile_cont`` interpolation: the same numbers as one SQL
aggregate over the rows (sums may differ in the last bit, being added in another order).
An hour is read once (its app is a group, so every app filter is answered from it) and kept
until one of its files changes (:mod:`pipeline.tools.ui.hourly`); a time range reads only
its two edge hours again. A view then costs numpy work, not a scan of the files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import numpy as np

from pipeline.tools.ui.filters import TimeRange
from pipeline.tools.ui.hourly import HOUR_SQL, by_hour, hour_of
from pipeline.tools.ui.layout import HOUR, in_range
from pipeline.tools.ui.store import Store

MINUTE_SQL = "floor(epoch(timestamp) / 60) * 60"
"""A row's minute (epoch seconds, DOUBLE): every bucket width is a whole number of minutes."""
SUMMED = ("traces", "errors", "statused", "cost", "costed", "tokens")


def quantile_cont(values: np.ndarray, q: float) -> float | None:
    """DuckDB's ``quantile_cont`` of DOUBLEs, to the bit: linear interpolation between the
    two nearest ranks, ``lo * (1 - d) + hi * d`` with the first product fused into the sum
    (one rounding), as DuckDB's compiled code does it (tested against DuckDB)."""
    if len(values) == 0:
        return None
    rank = (len(values) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    part = np.partition(values, [low, high])
    lo, hi = float(part[low]), float(part[high])
    if low == high:
        return lo
    d = rank - low
    return float(Fraction(lo) * Fraction(1.0 - d) + Fraction(hi * d))


def _minutes(store: Store, rows_sql: str, params: list[Any]) -> dict[datetime, list[dict]]:
    table = store.arrow(
        f"SELECT {HOUR_SQL} AS hour, {MINUTE_SQL} AS t, app, count(*) AS traces,"
        " count(*) FILTER (status = 'ERROR') AS errors, count(status) AS statused,"
        " coalesce(sum(cost_usd), 0) AS cost, count(cost_usd) AS costed,"
        " sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))::BIGINT AS tokens,"
        " min(timestamp) AS first, max(timestamp) AS last,"
        " list(latency_ms) FILTER (latency_ms IS NOT NULL) AS latencies"
        f" FROM {rows_sql} GROUP BY ALL",
        params,
    )
    latencies = table["latencies"].combine_chunks()
    values = latencies.values.to_numpy(zero_copy_only=False).astype(np.float64)
    offsets = latencies.offsets.to_numpy()
    valid = latencies.is_valid().to_numpy(zero_copy_only=False)  # null: no latency at all
    rows = table.drop_columns(["latencies"]).to_pylist()
    out: dict[datetime, list[dict]] = {}
    for i, row in enumerate(rows):
        row["latencies"] = values[offsets[i] : offsets[i + 1]] if valid[i] else values[:0]
        row["first"], row["last"] = row["first"].astimezone(UTC), row["last"].astimezone(UTC)
        out.setdefault(hour_of(row.pop("hour")), []).append(row)
    return out


RowsSource = Callable[[TimeRange, frozenset[datetime]], tuple[str, list[Any]]]
"""The one-row-per-trace SQL (and its parameters) of a scope's given hour partitions."""


def minute_summaries(store: Store, scope: TimeRange, rows_source: RowsSource) -> list[dict]:
    """Every minute of the scope with traces, per app: counts, sums, first/last time and
    latencies. Hours wholly inside the time range are summarised once for every range and
    app (the app is a group, not a filter); only the two edge hours of a range read rows
    of that range."""
    datasets = ("traces",) if store.available("traces") else ("results",)
    hours = {f.hour_start for f in in_range(store.files(datasets[0]), scope.since, scope.until)}
    whole = frozenset(h for h in hours if (scope.since is None or scope.since <= h) and
                      (scope.until is None or h + HOUR <= scope.until))  # fmt: skip
    ranged = TimeRange(since=scope.since, until=scope.until)
    per_hour = {}
    for part, allowed in ((TimeRange(), whole), (ranged, frozenset(hours - whole))):
        if allowed:
            per_hour |= by_hour(
                store, datasets, ("minutes", part.query_string()),
                lambda chosen, part=part: _minutes(store, *rows_source(part, chosen)),
                since=part.since, until=part.until, allowed=allowed, empty=[],
            )  # fmt: skip
    return [
        minute
        for hour in sorted(per_hour)
        for minute in per_hour[hour]
        if scope.app is None or minute["app"] == scope.app
    ]


def _combined(minutes: list[dict[str, Any]]) -> dict[str, Any]:
    total = {name: sum(m[name] for m in minutes) for name in SUMMED}
    latencies = np.concatenate([np.empty(0), *(m["latencies"] for m in minutes)])
    return {
        "traces": total["traces"],
        "error_rate": total["errors"] / total["statused"] if total["statused"] else None,
        "p50": quantile_cont(latencies, 0.5),
        "p95": quantile_cont(latencies, 0.95),
        "cost": total["cost"] if total["costed"] else None,
        "tokens": total["tokens"] if total["traces"] else None,
    }


def totals(minutes: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``SELECT count(*), avg(error), quantile_cont(latency_ms, 0.5), ...`` gives."""
    out = _combined(minutes)
    out["first"] = min((m["first"] for m in minutes), default=None)
    out["last"] = max((m["last"] for m in minutes), default=None)
    return out


def series(minutes: list[dict[str, Any]], step: int) -> list[dict[str, Any]]:
    """One point per ``step``-second bucket (a whole number of minutes) holding traces."""
    buckets: dict[float, list[dict[str, Any]]] = {}
    for minute in minutes:
        buckets.setdefault(float(math.floor(minute["t"] / step) * step), []).append(minute)
    out = []
    for t in sorted(buckets):
        point = _combined(buckets[t])
        del point["tokens"]
        out.append({"t": t, **point})
    return out
