"""Aggregates for the overview and evaluator pages, computed by DuckDB over the Parquet files.

Only small answers (one row per time bucket, per evaluator or per score bin) leave DuckDB, so
the pages cost the same whether a bucket holds ten traces or a million.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.tools.ui.filters import TimeRange
from pipeline.tools.ui.hourly import HOUR_SQL, by_hour, hour_of
from pipeline.tools.ui.store import Source, Store

BUCKETS = (60, 300, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
"""Bucket widths (seconds) a time series may use; the first giving at most ~60 points wins."""

WORST_LIMIT = 25


def bucket_seconds(first: datetime | None, last: datetime | None, points: int = 60) -> int:
    if first is None or last is None:
        return BUCKETS[0]
    span = (last - first).total_seconds()
    return next((b for b in BUCKETS if span / b <= points), BUCKETS[-1])


def _filtered(source: Source, scope: TimeRange, extra: str = "") -> tuple[str, list[Any]]:
    conditions, params = [], []
    if scope.app is not None:
        conditions.append("app = ?")
        params.append(scope.app)
    if scope.since is not None:
        conditions.append("timestamp >= ?")
        params.append(scope.since)
    if scope.until is not None:
        conditions.append("timestamp <= ?")
        params.append(scope.until)
    if extra:
        conditions.append(extra)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{source.sql}{where}", [*source.params, *params]


def trace_rows_source(store: Store, scope: TimeRange) -> tuple[str, list[Any]]:
    """One row per trace: the ``traces`` dataset, or the results' distinct traces without it."""
    traces = store.source("traces", scope.since, scope.until)
    if traces.available:
        return _filtered(traces, scope)
    results = store.source("results", scope.since, scope.until)
    sql, params = _filtered(results, scope)
    return (
        "(SELECT DISTINCT trace_id, timestamp, app, status, latency_ms, cost_usd,"
        f" input_tokens, output_tokens FROM {sql})",
        params,
    )


def overview(store: Store, scope: TimeRange) -> dict[str, Any]:
    """Totals and time series: volume, error rate, latency p50/p95, cost, pass rates."""
    rows_sql, params = trace_rows_source(store, scope)
    totals = store.rows(
        "SELECT count(*) AS traces, avg((status = 'ERROR')::INT) AS error_rate,"
        " quantile_cont(latency_ms, 0.5) AS p50, quantile_cont(latency_ms, 0.95) AS p95,"
        " sum(cost_usd) AS cost, sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))"
        " AS tokens, min(timestamp) AS first, max(timestamp) AS last"
        f" FROM {rows_sql}",
        params,
    )[0]
    step = bucket_seconds(totals["first"], totals["last"])
    series = store.rows(
        "SELECT floor(epoch(timestamp) / ?) * ? AS t, count(*) AS traces,"
        " avg((status = 'ERROR')::INT) AS error_rate, quantile_cont(latency_ms, 0.5) AS p50,"
        " quantile_cont(latency_ms, 0.95) AS p95, sum(cost_usd) AS cost"
        f" FROM {rows_sql} GROUP BY 1 ORDER BY 1",
        [step, step, *params],
    )
    results = store.source("results", scope.since, scope.until)
    sql, rparams = _filtered(results, scope, "passed IS NOT NULL AND error IS NULL")
    rates = store.rows(
        "SELECT evaluator, floor(epoch(timestamp) / ?) * ? AS t, avg(passed::INT) AS rate"
        f" FROM {sql} GROUP BY 1, 2 ORDER BY 1, 2",
        [step, step, *rparams],
    )
    return {
        "totals": totals,
        "bucket_seconds": step,
        "series": series,
        "pass_rates": rates,
        "apps": apps(store, scope),
    }


def apps(store: Store, scope: TimeRange | None = None) -> list[str]:
    """Every app of the period, whatever app is selected (for the app menu)."""
    scope = scope or TimeRange()

    def distinct(hours: frozenset[datetime]) -> dict[datetime, list[str]]:
        results = store.source("results", hours=hours)
        rows = store.rows(
            f"SELECT {HOUR_SQL} AS hour, list(DISTINCT app) AS apps FROM {results.sql} GROUP BY 1",
            results.params,
        )
        return {hour_of(r["hour"]): r["apps"] for r in rows}

    per_hour = by_hour(store, ("results",), "apps", distinct, since=scope.since,
                       until=scope.until, empty=[])  # fmt: skip
    return sorted({app for names in per_hour.values() for app in names})


def latest_timestamp(store: Store) -> datetime | None:
    """The newest trace time, reading only the newest partition."""
    files = store.files("results")
    if not files:
        return None
    newest = files[-1].hour_start
    results = store.source("results", newest, newest)
    return store.value(f"SELECT max(timestamp) FROM {results.sql}", results.params)


ADDITIVE = ("evaluations", "passed", "failed", "errors", "not_applicable", "judged",
            "score_sum", "scored", "latency_sum", "timed")  # fmt: skip


def _evaluator_hours(store: Store, scope: TimeRange):
    def aggregate(hours: frozenset[datetime]) -> dict[datetime, list[dict[str, Any]]]:
        results = store.source("results", scope.since, scope.until, hours)
        sql, params = _filtered(results, scope)
        rows = store.rows(
            f"SELECT {HOUR_SQL} AS hour, evaluator, list(DISTINCT evaluator_version) AS versions,"
            " any_value(source) AS source, count(*) AS evaluations,"
            " count(*) FILTER (passed) AS passed, count(*) FILTER (NOT passed) AS failed,"
            " count(error) AS errors, count(*) FILTER (label = 'not_applicable')"
            " AS not_applicable, count(passed) AS judged, coalesce(sum(score), 0) AS score_sum,"
            " count(score) AS scored, coalesce(sum(eval_latency_ms), 0) AS latency_sum,"
            f" count(eval_latency_ms) AS timed FROM {sql} GROUP BY 1, 2",
            params,
        )
        out: dict[datetime, list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault(hour_of(row.pop("hour")), []).append(row)
        return out

    key = ("evaluators", scope.query_string())
    return by_hour(store, ("results",), key, aggregate, since=scope.since, until=scope.until,
                   empty=[])  # fmt: skip


def evaluators(store: Store, scope: TimeRange | None = None) -> list[dict[str, Any]]:
    """Per evaluator: evaluations, passed, failed, errors, not applicable, mean score, pass
    rate and mean evaluation latency; summed from remembered per-hour counts."""
    scope = scope or TimeRange()
    totals: dict[str, dict[str, Any]] = {}
    for rows in _evaluator_hours(store, scope).values():
        for row in rows:
            total = totals.setdefault(
                row["evaluator"],
                {"evaluator": row["evaluator"], "versions": set(), "source": row["source"],
                 **dict.fromkeys(ADDITIVE, 0)},
            )  # fmt: skip
            total["versions"] |= set(row["versions"])
            for name in ADDITIVE:
                total[name] += row[name]
    out = []
    for name in sorted(totals):
        t = totals[name]
        out.append({
            "evaluator": name, "versions": ",".join(sorted(t["versions"])), "source": t["source"],
            **{k: t[k] for k in ("evaluations", "passed", "failed", "errors", "not_applicable")},
            "mean_score": t["score_sum"] / t["scored"] if t["scored"] else None,
            "pass_rate": t["passed"] / t["judged"] if t["judged"] else None,
            "mean_ms": t["latency_sum"] / t["timed"] if t["timed"] else None,
        })  # fmt: skip
    return out


def evaluator_detail(store: Store, name: str, scope: TimeRange) -> dict[str, Any]:
    """Score histogram (10 bins over [0, 1]), pass rate over time and the worst traces."""
    results = store.source("results", scope.since, scope.until)
    sql, params = _filtered(results, scope, "evaluator = ?")
    params = [*params, name]
    span = store.rows(f"SELECT min(timestamp) AS first, max(timestamp) AS last FROM {sql}", params)
    step = bucket_seconds(span[0]["first"], span[0]["last"])
    histogram = store.rows(
        "SELECT least(floor(score * 10), 9)::INT AS bin, count(*) AS n"
        f" FROM {sql} AND score IS NOT NULL GROUP BY 1 ORDER BY 1",
        params,
    )
    counts = [0] * 10
    for row in histogram:
        counts[max(row["bin"], 0)] += row["n"]
    rates = store.rows(
        "SELECT floor(epoch(timestamp) / ?) * ? AS t, avg(passed::INT) AS rate"
        f" FROM {sql} AND passed IS NOT NULL AND error IS NULL GROUP BY 1 ORDER BY 1",
        [step, step, *params],
    )
    worst = store.rows(
        "SELECT trace_id, timestamp, app, score, label, coalesce(error, rationale) AS why"
        f" FROM {sql} AND (NOT passed OR error IS NOT NULL)"
        " ORDER BY score NULLS FIRST, timestamp DESC, trace_id LIMIT ?",
        [*params, WORST_LIMIT],
    )
    return {"histogram": counts, "bucket_seconds": step, "pass_rates": rates, "worst": worst}
