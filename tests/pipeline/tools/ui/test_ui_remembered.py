"""What the UI remembers to stay fast gives the answers a direct query over the files gives:
the overview's totals and series, filter counts per filter shape, mixed-schema files."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from pipeline.tools.ui import stats
from pipeline.tools.ui.filters import TimeRange, TraceQuery
from pipeline.tools.ui.layout import Datasets
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.trace_list import hour_counts, list_traces
from pipeline.tools.ui.trace_totals import quantile_cont

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # the fixtures' first hour (conftest)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 20, 33, 1000, 12345])
def test_quantile_cont_is_duckdbs(size):
    values = np.random.default_rng(size).lognormal(6, 1, size).round(1)
    for q in (0.5, 0.95, 0.99, 0.1, 0.0, 1.0):
        expected = duckdb.sql(f"SELECT quantile_cont(v, {q}) FROM (SELECT unnest(?) AS v)",
                              params=[values.tolist()]).fetchall()[0][0]  # fmt: skip
        assert quantile_cont(values, q) == expected
    assert quantile_cont(np.empty(0), 0.5) is None


def _one_query(store: Store, scope: TimeRange) -> tuple[dict, list[dict]]:
    """The overview as one SQL aggregate over the rows (what the UI computed per view)."""
    rows_sql, params = stats.trace_rows_source(store, scope)
    totals = store.rows(
        "SELECT count(*) AS traces, avg((status = 'ERROR')::INT) AS error_rate,"
        " quantile_cont(latency_ms, 0.5) AS p50, quantile_cont(latency_ms, 0.95) AS p95,"
        " sum(cost_usd) AS cost, sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0))"
        f" AS tokens, min(timestamp) AS first, max(timestamp) AS last FROM {rows_sql}",
        params,
    )[0]
    step = stats.bucket_seconds(totals["first"], totals["last"])
    series = store.rows(
        "SELECT floor(epoch(timestamp) / ?) * ? AS t, count(*) AS traces,"
        " avg((status = 'ERROR')::INT) AS error_rate, quantile_cont(latency_ms, 0.5) AS p50,"
        " quantile_cont(latency_ms, 0.95) AS p95, sum(cost_usd) AS cost"
        f" FROM {rows_sql} GROUP BY 1 ORDER BY 1",
        [step, step, *params],
    )
    return totals, series


@pytest.mark.parametrize(
    "scope",
    [
        TimeRange(),
        TimeRange(app="chat"),
        TimeRange(since=START + timedelta(minutes=37), until=START + timedelta(hours=2, minutes=9)),
        TimeRange(app="support-bot", since=START + timedelta(hours=1, minutes=5)),
    ],
)
def test_overview_is_the_one_query_answer(ui_results_dir, scope):
    store = Store(Datasets.beside(ui_results_dir))
    stats.overview(store, TimeRange())  # other scopes' memory must not leak into this one
    got = stats.overview(store, scope)
    totals, series = _one_query(store, scope)
    sums = ("error_rate", "cost", "tokens")  # added in another order: equal to the last bits
    assert {k: got["totals"][k] for k in sums} == pytest.approx({k: totals[k] for k in sums})
    for name in ("traces", "p50", "p95", "first", "last"):
        assert got["totals"][name] == totals[name]  # counts and percentiles: exact
    exact = ("t", "traces", "p50", "p95")
    assert [{k: p[k] for k in exact} for p in got["series"]] == [
        {k: p[k] for k in exact} for p in series
    ]
    for mine, theirs in zip(got["series"], series, strict=True):
        assert mine == pytest.approx(theirs)


def test_a_new_value_of_a_counted_filter_shape_needs_no_query(ui_results_dir):
    store = Store(Datasets.beside(ui_results_dir))
    first = hour_counts(store, TraceQuery(app="chat", status="OK"))
    asked = []
    original = store.rows
    store.rows = lambda sql, params=(): asked.append(sql) or original(sql, params)
    other = hour_counts(store, TraceQuery(app="support-bot", status="ERROR"))
    assert asked == []  # the first query counted every (app, status)
    store.rows = original
    for query, counts in ((TraceQuery(app="chat", status="OK"), first),
                          (TraceQuery(app="support-bot", status="ERROR"), other)):  # fmt: skip
        assert sum(counts.values()) == list_traces(Store(store.datasets), query).total


def test_files_of_two_schemas_read_together(ui_results_dir, tmp_path):
    """A file written before ``trace_version`` existed reads beside newer files."""
    root = tmp_path / "data"
    shutil.copytree(ui_results_dir.parent, root)
    files = sorted((root / "parquet").rglob("*.parquet"))
    older = pq.read_table(files[0])
    pq.write_table(older.drop_columns(["trace_version"]), files[0])
    store = Store(Datasets.beside(root / "parquet"))
    assert "union_by_name" in store.source("results").sql
    old_ids = set(older["trace_id"].to_pylist())
    page = list_traces(store, TraceQuery(evaluator="correctness", limit=500))
    assert page.total == Store(Datasets.beside(ui_results_dir)).value(
        "SELECT count(DISTINCT trace_id) FROM read_parquet(?) WHERE evaluator = 'correctness'",
        [[str(p) for p in sorted(ui_results_dir.rglob("*.parquet"))]],
    )
    assert all(t["trace_version"] == 1 for t in page.traces if t["trace_id"] in old_ids)
    single = Store(Datasets.beside(ui_results_dir)).source("traces").sql
    assert "union_by_name" not in single


@pytest.fixture(scope="module")
def unversioned_dir(tmp_path_factory):
    """Traces of one version each, two files per hour, latencies in runs of equal values."""
    from pipeline.tools.demo.samples import sample_traces
    from pipeline.tools.ui.testing import score_traces, write_datasets

    root = tmp_path_factory.mktemp("ui-flat") / "parquet"
    traces = list(sample_traces(200, start=START, spread_seconds=3 * 3600))
    for i, trace in enumerate(traces):
        trace["latency_ms"] = float(100 * (i % 13))
    write_datasets(root, score_traces(traces[:100]))
    write_datasets(root, score_traces(traces[100:]), first_offset=1000)
    return root


@pytest.mark.parametrize("fixture", ["ui_results_dir", "unversioned_dir"])
@pytest.mark.parametrize("sort", ["latency", "cost"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_page_of_a_range_bounded_sort_is_the_full_sorts(request, fixture, sort, order):
    """Pages cut anywhere (inside runs of equal values too) match one full ORDER BY; without
    versions the page reads only the files holding its range's values."""
    from pipeline.tools.ui import trace_list
    from pipeline.tools.ui.sort_bound import sort_bound

    store = Store(Datasets.beside(request.getfixturevalue(fixture)))
    column = {"latency": "latency_ms", "cost": "cost_usd"}[sort]
    traces = store.source("traces")
    full = [r["trace_id"] for r in store.rows(
        f"SELECT trace_id FROM {traces.sql} QUALIFY trace_version = max(trace_version) OVER"
        f" (PARTITION BY trace_id) ORDER BY {column} {order} NULLS LAST, trace_id",
        traces.params)]  # fmt: skip
    values = [r["v"] for r in store.rows(f"SELECT {column} AS v FROM {traces.sql}", traces.params)]
    assert len(values) > len(set(values))  # the data has ties to cut through
    for offset in range(0, len(full), 7):
        query = TraceQuery(sort=sort, order=order, limit=7, offset=offset)
        page = list_traces(store, query)
        assert [t["trace_id"] for t in page.traces] == full[offset : offset + 7]
    one = TraceQuery(sort="cost", order=order, limit=1, offset=3)  # costs do not repeat here
    found = sort_bound(store, one,
                       lambda hours: trace_list._candidates(store, one, hours, by_file=True),
                       ("traces",), "key", None)  # fmt: skip
    if fixture == "unversioned_dir":  # the one file holding that row, among six
        assert found.files is not None and len(found.files) == 1 < len(store.files("traces"))
        assert [t["trace_id"] for t in list_traces(store, one).traces] == [
            r["trace_id"] for r in store.rows(
                f"SELECT trace_id FROM {traces.sql} ORDER BY cost_usd {order}, trace_id"
                " LIMIT 1 OFFSET 3", traces.params)]  # fmt: skip
    else:  # with versions a trace's rows may span files: no file restriction
        assert found.files is None
