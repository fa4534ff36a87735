"""Aggregates for the overview and evaluator pages, computed by DuckDB over the Parquet files.

Only small answers (one row per time bucket, per evaluator or per score bin) leave DuckDB, so
the pages cost the same whether a bucket holds ten traces or a million.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline.tools.ui import trace_totals
from pipeline.tools.ui.filters import TimeRange, range_conditions
from pipeline.tools.ui.hourly import HOUR_SQL, by_hour, hour_of
from pipeline.tools.ui.layout import in_range
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
    conditions, params = range_conditions(scope)
    if extra:
        conditions.append(extra)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"{source.sql}{where}", [*source.params, *params]


def trace_rows_source(
    store: Store, scope: TimeRange, hours: frozenset[datetime] | None = None
) -> tuple[str, list[Any]]:
    """One row per trace: the ``traces`` dataset, or the results' distinct traces without it."""
    traces = store.source("traces", scope.since, scope.until, hours)
    if traces.available or (hours is not None and store.available("traces")):
        return _filtered(traces, scope)
    results = store.source("results", scope.since, scope.until, hours)
    sql, params = _filtered(results, scope)
    return (
        "(SELECT DISTINCT trace_id, timestamp, app, status, latency_ms, cost_usd,"
        f" input_tokens, output_tokens FROM {sql})",
        params,
    )


def overview(store: Store, scope: TimeRange) -> dict[str, Any]:
    """Totals and time series: volume, error rate, latency p50/p95, cost, pass rates; from
    remembered per-minute summaries (:mod:`pipeline.tools.ui.trace_totals`)."""
    minutes = trace_totals.minute_summaries(
        store, scope, lambda part, hours: trace_rows_source(store, part, hours)
    )
    totals = trace_totals.totals(minutes)
    step = bucket_seconds(totals["first"], totals["last"])
    return {
        "totals": totals,
        "bucket_seconds": step,
        "series": trace_totals.series(minutes, step),
        "pass_rates": pass_rates(store, scope, step),
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


def _by_app(scope: TimeRange, per_hour: dict[datetime, list[dict]]) -> dict[datetime, list]:
    """The rows of ``scope.app`` (the app is a group of the remembered rows, not a filter:
    every app's view is answered from the same hours)."""
    if scope.app is None:
        return per_hour
    return {hour: [r for r in rows if r["app"] == scope.app] for hour, rows in per_hour.items()}


def _evaluator_hours(store: Store, scope: TimeRange):
    ranged = TimeRange(since=scope.since, until=scope.until)

    def aggregate(hours: frozenset[datetime]) -> dict[datetime, list[dict[str, Any]]]:
        results = store.source("results", scope.since, scope.until, hours)
        sql, params = _filtered(results, ranged)
        rows = store.rows(
            f"SELECT {HOUR_SQL} AS hour, app, evaluator,"
            " list(DISTINCT evaluator_version) AS versions, any_value(source) AS source,"
            " count(*) AS evaluations,"
            " count(*) FILTER (passed) AS passed, count(*) FILTER (NOT passed) AS failed,"
            " count(error) AS errors, count(*) FILTER (label = 'not_applicable')"
            " AS not_applicable, count(passed) AS judged, coalesce(sum(score), 0) AS score_sum,"
            " count(score) AS scored, coalesce(sum(eval_latency_ms), 0) AS latency_sum,"
            f" count(eval_latency_ms) AS timed FROM {sql} GROUP BY 1, 2, 3",
            params,
        )
        out: dict[datetime, list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault(hour_of(row.pop("hour")), []).append(row)
        return out

    key = ("evaluators", ranged.query_string())
    return _by_app(scope, by_hour(store, ("results",), key, aggregate, since=scope.since,
                                  until=scope.until, empty=[]))  # fmt: skip


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


def _per_hour_rows(store: Store, scope: TimeRange, key: Any, select: str, extra: str = "",
                   params: tuple = ()) -> list[dict[str, Any]]:  # fmt: skip
    """Rows of ``SELECT {HOUR_SQL} AS hour, {select} ... GROUP BY ALL`` over the results,
    remembered per hour partition (``hourly``) for every app, concatenated."""
    ranged = TimeRange(since=scope.since, until=scope.until)

    def compute(hours: frozenset[datetime]) -> dict[datetime, list[dict[str, Any]]]:
        results = store.source("results", scope.since, scope.until, hours)
        sql, sql_params = _filtered(results, ranged, extra)
        out: dict[datetime, list[dict[str, Any]]] = {}
        for row in store.rows(f"SELECT {HOUR_SQL} AS hour, app, {select} FROM {sql} GROUP BY ALL",
                              [*params, *sql_params]):  # fmt: skip
            out.setdefault(hour_of(row.pop("hour")), []).append(row)
        return out

    per_hour = by_hour(store, ("results",), (key, ranged.query_string()), compute,
                       since=scope.since, until=scope.until, empty=[])  # fmt: skip
    return [row for rows in _by_app(scope, per_hour).values() for row in rows]


def pass_rates(store: Store, scope: TimeRange, step: int, evaluator: str | None = None):
    """Pass rate per evaluator and time bucket (``step`` divides or is a multiple of an hour,
    so each bucket's counts add up from whole hours)."""
    rows = _per_hour_rows(
        store, scope, ("rates", step),
        "evaluator, floor(epoch(timestamp) / ?) * ? AS t, count(*) FILTER (passed) AS passed,"
        " count(*) AS judged", "passed IS NOT NULL AND error IS NULL", (step, step),
    )  # fmt: skip
    sums: dict[tuple[str, float], list[int]] = {}
    for row in rows:
        if evaluator is None or row["evaluator"] == evaluator:
            total = sums.setdefault((row["evaluator"], row["t"]), [0, 0])
            total[0] += row["passed"]
            total[1] += row["judged"]
    return [{"evaluator": e, "t": t, "rate": p / n} for (e, t), (p, n) in sorted(sums.items())]


def _data_span(store: Store, scope: TimeRange) -> tuple[datetime | None, datetime | None]:
    """First and last hour partition of the results in scope (enough to choose buckets)."""
    hours = [f.hour_start for f in in_range(store.files("results"), scope.since, scope.until)]
    if not hours:
        return None, None
    return max(min(hours), scope.since or min(hours)), min(
        max(hours) + timedelta(hours=1), scope.until or max(hours) + timedelta(hours=1)
    )


def evaluator_detail(store: Store, name: str, scope: TimeRange) -> dict[str, Any]:
    """Score histogram (10 bins over [0, 1]), pass rate over time and the worst traces, from
    remembered per-hour answers."""
    step = bucket_seconds(*_data_span(store, scope))
    counts = [0] * 10
    bins = _per_hour_rows(store, scope, "histogram", "evaluator, least(floor(score * 10), 9)::INT"
                          " AS bin, count(*) AS n", "score IS NOT NULL")  # fmt: skip
    for row in bins:
        if row["evaluator"] == name:
            counts[max(row["bin"], 0)] += row["n"]
    worst = _worst(store, scope, name)
    rates = [{"t": r["t"], "rate": r["rate"]} for r in pass_rates(store, scope, step, name)]
    return {"histogram": counts, "bucket_seconds": step, "pass_rates": rates, "worst": worst}


def _worst(store: Store, scope: TimeRange, name: str) -> list[dict[str, Any]]:
    """The evaluator's lowest-scored failures: each hour's worst few, merged."""

    def compute(hours: frozenset[datetime]) -> dict[datetime, list[dict[str, Any]]]:
        results = store.source("results", scope.since, scope.until, hours)
        sql, params = _filtered(
            results, scope, "evaluator = ? AND (NOT passed OR error IS NOT NULL)"
        )
        rows = store.rows(
            f"SELECT {HOUR_SQL} AS hour, trace_id, timestamp, app, score, label,"
            f" coalesce(error, rationale) AS why FROM {sql} QUALIFY row_number() OVER"
            f" (PARTITION BY {HOUR_SQL} ORDER BY score NULLS FIRST, timestamp DESC, trace_id) <= ?",
            [*params, name, WORST_LIMIT],
        )
        out: dict[datetime, list[dict[str, Any]]] = {}
        for row in rows:
            out.setdefault(hour_of(row.pop("hour")), []).append(row)
        return out

    per_hour = by_hour(store, ("results",), ("worst", name, scope.query_string()), compute,
                       since=scope.since, until=scope.until, empty=[])  # fmt: skip
    rows = [row for found in per_hour.values() for row in found]
    rows.sort(key=lambda r: (r["score"] is not None, r["score"] or 0.0,
                             -r["timestamp"].timestamp(), r["trace_id"]))  # fmt: skip
    return rows[:WORST_LIMIT]
