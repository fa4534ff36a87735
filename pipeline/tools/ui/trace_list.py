"""The filtered, sorted, paginated trace list: one SQL query for the page and its total.

Which dataset drives the list depends on the filters, to read as little as possible: with a
result filter (evaluator, passed, label) or the score sort, the results rows are grouped per
trace; otherwise the ``traces`` dataset has one row per trace (and version), seven times fewer
rows than the results. Session and free-text filters read the stored trace content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.tools.ui.exceptions import BadQueryError
from pipeline.tools.ui.filters import SORT_COLUMNS, TraceQuery
from pipeline.tools.ui.store import Source, Store

LIST_RESULT_COLUMNS = "trace_id, evaluator, score, passed, label, error, span_id, trace_version"


@dataclass(frozen=True)
class TracePage:
    traces: list[dict[str, Any]]
    """One dict per trace: trace-level fields and ``results`` (its evaluation results)."""
    total: int
    content_stored: bool
    """Whether the ``traces`` dataset exists (else session and text filters are unavailable)."""


def like_pattern(text: str) -> str:
    """``text`` as an ILIKE pattern that matches it literally anywhere (``\\`` escapes)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _trace_conditions(query: TraceQuery) -> tuple[list[str], list[Any]]:
    conditions, params = [], []
    for column, value in (("app", query.app), ("model", query.model), ("status", query.status)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if query.since is not None:
        conditions.append("timestamp >= ?")
        params.append(query.since)
    if query.until is not None:
        conditions.append("timestamp <= ?")
        params.append(query.until)
    return conditions, params


def _content_condition(query: TraceQuery, traces: Source) -> tuple[list[str], list[Any]]:
    inner, params = [], []
    if query.session is not None:
        inner.append("session_id = ?")
        params.append(query.session)
    if query.q is not None:
        inner.append(r"(inputs_json ILIKE ? ESCAPE '\' OR outputs_json ILIKE ? ESCAPE '\')")
        params += [like_pattern(query.q)] * 2
    if not inner:
        return [], []
    sql = f"trace_id IN (SELECT trace_id FROM {traces.sql} WHERE {' AND '.join(inner)})"
    return [sql], [*traces.params, *params]


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _has_versions(store: Store, traces: Source) -> bool:
    return bool(store.value(f"SELECT max(trace_version) > 1 FROM {traces.sql}", traces.params))


def _candidates(store: Store, query: TraceQuery) -> tuple[str, list[Any], bool]:
    """SQL of one row per matching trace, its parameters, and whether content is stored."""
    results = store.source("results", query.since, query.until)
    traces = store.source("traces", query.since, query.until)
    if query.needs_content and not traces.available:
        raise BadQueryError(
            "the session and free-text filters need the stored traces, and this data"
            " directory has no traces dataset"
        )
    conditions, params = _trace_conditions(query)
    content, content_params = _content_condition(query, traces)
    if query.filters_results or not traces.available:
        for column in ("evaluator", "passed", "label"):
            value = getattr(query, column)
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(value)
        sql = (
            "SELECT trace_id, max(timestamp) AS timestamp, any_value(app) AS app,"
            " any_value(model) AS model, any_value(status) AS status,"
            " any_value(latency_ms) AS latency_ms, any_value(cost_usd) AS cost_usd,"
            " NULL::VARCHAR AS session_id, max(trace_version) AS trace_version,"
            f" min(score) AS score FROM {results.sql} {_where(conditions + content)}"
            " GROUP BY trace_id"
        )
        return sql, [*results.params, *params, *content_params], traces.available
    latest = ""
    if _has_versions(store, traces):
        latest = " QUALIFY trace_version = max(trace_version) OVER (PARTITION BY trace_id)"
    sql = (
        "SELECT trace_id, timestamp, app, model, status, latency_ms, cost_usd, session_id,"
        f" trace_version, NULL::DOUBLE AS score FROM {traces.sql}"
        f" {_where(conditions + content)}{latest}"
    )
    return sql, [*traces.params, *params, *content_params], True


def _attach_results(store: Store, rows: list[dict[str, Any]]) -> None:
    """Each row's evaluation results, reading only the partitions of the page's traces."""
    if not rows:
        return
    first = min(r["timestamp"] for r in rows)
    last = max(r["timestamp"] for r in rows)
    source = store.source("results", first, last)
    marks = ", ".join("?" * len(rows))
    found = store.rows(
        f"SELECT {LIST_RESULT_COLUMNS} FROM {source.sql}"
        f" WHERE timestamp BETWEEN ? AND ? AND trace_id IN ({marks})"
        " ORDER BY trace_id, evaluator, span_id NULLS FIRST",
        [*source.params, first, last + timedelta(milliseconds=1), *(r["trace_id"] for r in rows)],
    )
    by_trace: dict[str, list[dict[str, Any]]] = {r["trace_id"]: [] for r in rows}
    latest = {r["trace_id"]: r["trace_version"] for r in rows}
    for result in found:
        trace_id = result.pop("trace_id")
        if result["trace_version"] == latest[trace_id]:
            by_trace[trace_id].append(result)
    for row in rows:
        row["results"] = by_trace[row["trace_id"]]


def list_traces(store: Store, query: TraceQuery) -> TracePage:
    sql, params, stored = _candidates(store, query)
    column = SORT_COLUMNS[query.sort]
    order = "ASC" if query.order == "asc" else "DESC"
    rows = store.rows(
        f"SELECT *, count(*) OVER () AS total FROM ({sql})"
        f" ORDER BY {column} {order} NULLS LAST, trace_id LIMIT ? OFFSET ?",
        [*params, query.limit, query.offset],
    )
    # Past the last page the window has nothing to count over: count separately.
    total = rows[0]["total"] if rows else store.value(f"SELECT count(*) FROM ({sql})", params)
    for row in rows:
        del row["total"]
    _attach_results(store, rows)
    return TracePage(rows, int(total or 0), stored)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
