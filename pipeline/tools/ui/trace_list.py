"""The filtered, sorted, paginated trace list: matching traces per hour, then one page.

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
from pipeline.tools.ui.filters import SORT_COLUMNS, TraceQuery, range_conditions
from pipeline.tools.ui.hourly import HOUR_SQL, by_hour, hour_of
from pipeline.tools.ui.key_index import hours_with
from pipeline.tools.ui.row_positions import results_by_position, rows_at
from pipeline.tools.ui.sort_bound import sort_bound
from pipeline.tools.ui.store import Source, Store

SPREAD = timedelta(hours=2)
"""Pages whose traces span more than this find their results' partitions through the index."""
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
    return range_conditions(query, ("app", "model", "status"))


def _content_filters(query: TraceQuery) -> tuple[list[str], list[Any]]:
    """Conditions on the ``traces`` dataset's own columns (session, free text)."""
    inner, params = [], []
    if query.session is not None:
        inner.append("session_id = ?")
        params.append(query.session)
    if query.q is not None:
        # ILIKE with an ESCAPE clause takes DuckDB's slower matcher (1.7x the CPU, unique text);
        # a term without ``%``, ``_`` or ``\\`` matches literally without one.
        escape = r" ESCAPE '\'" if like_pattern(query.q) != f"%{query.q}%" else ""
        inner.append(f"(inputs_json ILIKE ?{escape} OR outputs_json ILIKE ?{escape})")
        params += [like_pattern(query.q)] * 2
    return inner, params


def _content_condition(query: TraceQuery, traces: Source) -> tuple[list[str], list[Any]]:
    """The content filters as a condition on another dataset's rows."""
    inner, params = _content_filters(query)
    if not inner:
        return [], []
    sql = f"trace_id IN (SELECT trace_id FROM {traces.sql} WHERE {' AND '.join(inner)})"
    return [sql], [*traces.params, *params]


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def _has_versions(store: Store) -> bool:
    """Whether any trace has a second version (then the list keeps the latest of each)."""
    files = store.files("traces")
    key = ("versions", tuple((f.path, f.signature) for f in files))
    cached = store.memo.get(key)
    if cached is None:
        traces = store.source("traces")
        cached = bool(
            store.value(f"SELECT max(trace_version) > 1 FROM {traces.sql}", traces.params)
        )
        store.memo.put(key, cached)
    return cached


@dataclass(frozen=True)
class Candidates:
    """One row per matching trace (``rows_sql``) and matching traces per hour (``count_sql``);
    both take ``params``."""

    rows_sql: str
    count_sql: str
    params: list[Any]
    datasets: tuple[str, ...]
    stored: bool
    by_file: bool = False
    """Whether ``rows_sql`` has ``filename`` and ``file_row_number`` columns (``_candidates``)."""


def _candidates(
    store: Store,
    query: TraceQuery,
    hours: frozenset[datetime] | None = None,
    grouped: tuple[str, ...] = (),
    *,
    only: frozenset[str] | None = None,
    by_file: bool = False,
) -> Candidates:
    """``grouped``: filter columns that ``count_sql`` groups by instead of filtering on.
    ``only`` / ``by_file``: read only those files / name each row's file and position, where
    one row per trace is one row of one file (the traces dataset without versions); ignored
    elsewhere. With ``by_file``, ``count_sql`` counts per ``file`` instead of per ``hour``."""
    results = store.source("results", query.since, query.until, hours)
    traces = store.source("traces", query.since, query.until, hours)
    if query.needs_content and not traces.available:
        raise BadQueryError(
            "the session and free-text filters need the stored traces, and this data"
            " directory has no traces dataset"
        )
    conditions, params = _trace_conditions(query.model_copy(update=dict.fromkeys(grouped)))
    hour = ", ".join((f"{HOUR_SQL} AS hour", *grouped))
    if query.filters_results or not traces.available:
        for column in ("evaluator", "passed", "label"):
            value = getattr(query, column)
            if value is not None and column not in grouped:
                conditions.append(f"{column} = ?")
                params.append(value)
        content, content_params = _content_condition(query, traces)
        extra = ("traces",) if content else ()
        where = f"FROM {results.sql} {_where(conditions + content)}"
        return Candidates(
            "SELECT trace_id, max(timestamp) AS timestamp, any_value(app) AS app,"
            " any_value(model) AS model, any_value(status) AS status,"
            " any_value(latency_ms) AS latency_ms, any_value(cost_usd) AS cost_usd,"
            " NULL::VARCHAR AS session_id, max(trace_version) AS trace_version,"
            f" min(score) AS score {where} GROUP BY trace_id",
            f"SELECT {hour}, count(DISTINCT trace_id) AS n {where} GROUP BY ALL",
            [*results.params, *params, *content_params],
            ("results", *extra),
            traces.available,
        )
    content, content_params = _content_filters(query)
    versions = _has_versions(store)
    by_file = by_file and not versions
    if (only is not None or by_file) and not versions:
        traces = store.source("traces", query.since, query.until, hours, only, by_file, by_file)
    where = f"FROM {traces.sql} {_where(conditions + content)}"
    latest = " QUALIFY trace_version = max(trace_version) OVER (PARTITION BY trace_id)"
    if by_file:  # a row is a trace of its file's hour: no timestamp to decode for the count
        hour = ", ".join(("filename AS file", *grouped))
    return Candidates(
        "SELECT trace_id, timestamp, app, model, status, latency_ms, cost_usd, session_id,"
        f" trace_version, NULL::DOUBLE AS score{', filename, file_row_number' if by_file else ''}"
        f" {where}{latest if versions else ''}",
        f"SELECT {hour}, {'count(DISTINCT trace_id)' if versions else 'count(*)'} AS n {where}"
        " GROUP BY ALL",
        [*traces.params, *params, *content_params],
        ("traces",),
        True,
        by_file,
    )


def _filter_key(query: TraceQuery) -> str:
    return query.model_copy(update={"sort": "time", "order": "desc", "offset": 0}).query_string()


GROUPED = ("app", "model", "status", "evaluator", "passed", "label")
"""Equality filters counted for all their values at once: one query per combination of
filters that are set answers every value (a new app, model, ... is then no new scan)."""


def hour_counts(
    store: Store, query: TraceQuery, allowed: frozenset[datetime] | None = None
) -> dict[datetime, int]:
    """Matching traces per hour partition, each hour counted once per filter shape
    (``hourly``, ``GROUPED``): paging, other values of the same filters and a live worker's
    new files only cost the hours that changed."""
    grouped = tuple(c for c in GROUPED if getattr(query, c) is not None)
    wanted = tuple(getattr(query, c) for c in grouped)

    def count(hours: frozenset[datetime]) -> dict[datetime, dict[tuple, int]]:
        part = _candidates(store, query, hours, grouped, by_file=True)
        found = store.rows(part.count_sql, part.params)
        if part.by_file:  # per file (decoding timestamps was half of a count): to its hour
            hour_of_file = {f.path: f.hour_start for f in store.files("traces")}
            if any(r["file"] not in hour_of_file for r in found):  # DuckDB renamed one
                part = _candidates(store, query, hours, grouped)
                found = store.rows(part.count_sql, part.params)
            else:
                for r in found:
                    r["hour"] = hour_of_file[r.pop("file")]
        out: dict[datetime, dict[tuple, int]] = {}
        for r in found:
            hour = r["hour"] if isinstance(r["hour"], datetime) else hour_of(r["hour"])
            bucket = out.setdefault(hour, {})
            values = tuple(r[c] for c in grouped)
            bucket[values] = bucket.get(values, 0) + int(r["n"])
        return out

    datasets = _candidates(store, query, allowed).datasets
    shape = _filter_key(query.model_copy(update=dict.fromkeys(grouped)))
    key = ("counts", shape, grouped, query.filters_results)  # the score sort counts results
    per_hour = by_hour(store, datasets, key, count, since=query.since, until=query.until,
                       allowed=allowed, empty={})  # fmt: skip
    return {hour: found.get(wanted, 0) for hour, found in per_hour.items()}


def _page_hours(counts: dict[datetime, int], query: TraceQuery) -> tuple[frozenset, int]:
    """For the time sort: the hours that hold the page's rows, and how many rows to skip."""
    skip, chosen, held = query.offset, [], 0
    for hour in sorted(counts, reverse=query.order == "desc"):
        if not chosen and skip >= counts[hour]:
            skip -= counts[hour]
            continue
        chosen.append(hour)
        held += counts[hour]
        if held - skip >= query.limit:
            break
    return frozenset(chosen), skip


def _attach_results(store: Store, rows: list[dict[str, Any]]) -> None:
    """Each row's evaluation results, reading only the partitions of the page's traces."""
    if not rows:
        return
    first = min(r["timestamp"] for r in rows)
    last = max(r["timestamp"] for r in rows)
    if last - first > SPREAD:  # a page sorted by latency, cost or score: ask the id index
        # for the rows' positions: neither timestamps nor random trace ids to decode
        found = results_by_position(store, [r["trace_id"] for r in rows])
    else:
        source = store.source("results", first, last)
        marks = ", ".join("?" * len(rows))
        found = {r["trace_id"]: [] for r in rows}
        for result in store.rows(
            f"SELECT {LIST_RESULT_COLUMNS} FROM {source.sql} WHERE timestamp BETWEEN ? AND ?"
            f" AND trace_id IN ({marks}) ORDER BY trace_id, evaluator, span_id NULLS FIRST",
            [*source.params, first, last + timedelta(milliseconds=1),
             *(r["trace_id"] for r in rows)],
        ):  # fmt: skip
            found[result.pop("trace_id")].append(result)
    for row in rows:
        latest = row["trace_version"]
        row["results"] = [r for r in found[row["trace_id"]] if r["trace_version"] == latest]


def _allowed_hours(store: Store, query: TraceQuery) -> frozenset[datetime] | None:
    """A session lives in a few hours: the session index names them, the rest is skipped."""
    if query.session is None or not store.available("traces"):
        return None
    return hours_with(store, "traces", "session_id", query.session)


def _page_at(
    store: Store,
    query: TraceQuery,
    allowed: frozenset[datetime] | None,
    positions: tuple[tuple[str, int], ...],
    total: int,
) -> TracePage:
    """The page whose rows the remembered sort values name exactly, in the full sort's order
    (equal values inside the page by ``trace_id``, as ``ORDER BY column, trace_id``)."""
    plan = _candidates(store, query, allowed, only=frozenset(p for p, _ in positions),
                       by_file=True)  # fmt: skip
    found = rows_at(store, plan.rows_sql, plan.params, positions)
    column = SORT_COLUMNS[query.sort]
    sign = -1.0 if query.order == "desc" else 1.0
    rows = sorted((found[p] for p in positions if p in found),
                  key=lambda r: (sign * r[column], r["trace_id"]))  # fmt: skip
    _attach_results(store, rows)
    return TracePage(rows, total, store.available("traces"))


def list_traces(store: Store, query: TraceQuery) -> TracePage:
    allowed = _allowed_hours(store, query)
    counts = hour_counts(store, query, allowed)
    total = sum(counts.values())
    column = SORT_COLUMNS[query.sort]
    order = "ASC" if query.order == "asc" else "DESC"
    if query.sort == "time":  # read only the hours the page's rows are in
        hours, skip = _page_hours(counts, query)
        plan = _candidates(store, query, hours) if hours else None
    else:
        plan, skip = _candidates(store, query, allowed), query.offset
    bound, bound_params, tie_order = "", [], ", trace_id"
    if plan is not None and not query.filters_results and total > query.offset:
        found = sort_bound(store, query,
                           lambda hours: _candidates(store, query, hours, by_file=True),
                           plan.datasets, _filter_key(query), allowed)  # fmt: skip
        if found is not None and found.rows is not None:  # the page's rows, by position
            return _page_at(store, query, allowed, found.rows, total)
        if found is not None:
            bound, bound_params, skip = f" WHERE {found.condition}", found.params, found.offset
            tie_order = ", trace_id" if found.tied else ""
            if found.files is not None:  # only the files holding values of the range
                plan = _candidates(store, query, allowed, only=found.files)
    rows = []
    if plan is not None and total > query.offset:
        rows = store.rows(
            f"SELECT * FROM ({plan.rows_sql}){bound}"
            f" ORDER BY {column} {order} NULLS LAST{tie_order} LIMIT ? OFFSET ?",
            [*plan.params, *bound_params, query.limit, skip],
        )
    _attach_results(store, rows)
    return TracePage(rows, total, store.available("traces"))


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")
