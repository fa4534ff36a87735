"""Pages sorted by latency or cost, read by row position (the sort values' remembered file and
row, the results' id index), through the real ``evalstream ui`` process: every page equals a
plain DuckDB ``ORDER BY`` over the same files, its results the rows DuckDB finds by trace id;
with ties, filters, pagination, files added while the UI runs and a compaction that replaces
an hour's files with one file of the same rows in another order."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from conftest import serve_ui

from pipeline.tools.demo.samples import sample_traces
from pipeline.tools.ui import trace_list
from pipeline.tools.ui.filters import TraceQuery
from pipeline.tools.ui.layout import Datasets
from pipeline.tools.ui.sort_bound import sort_bound
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.testing import score_traces, write_datasets

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
LISTING = 2.5  # the UI lists files at most every 2 s
RESULT_FIELDS = ("evaluator", "score", "passed", "label", "error", "span_id")


def _batch(root: Path, count: int, first: int, seed: int) -> None:
    traces = list(sample_traces(count, start=START, spread_seconds=3 * 3600, seed=seed))
    for i, trace in enumerate(traces):
        trace["trace_id"] = f"tr-{first + i:05d}-{seed}"
        if i % 3:  # runs of equal latencies for pages to cut through; the rest unique
            trace["latency_ms"] = float(100 * (i % 13))
    write_datasets(root, score_traces(traces), first_offset=first)


def _expected(root: Path, sort: str, order: str, filters: dict, limit: int, offset: int):
    column = {"latency": "latency_ms", "cost": "cost_usd"}[sort]
    traces = [str(p) for p in sorted((root.parent / "traces").rglob("*.parquet"))]
    results = [str(p) for p in sorted(root.rglob("*.parquet"))]
    where = ("WHERE " + " AND ".join(f"{k} = ?" for k in filters)) if filters else ""
    page = duckdb.sql(
        f"SELECT trace_id, {column} AS v FROM read_parquet(?) {where}"
        f" ORDER BY {column} {order} NULLS LAST, trace_id LIMIT {limit} OFFSET {offset}",
        params=[traces, *filters.values()],
    ).fetchall()
    ids = [t for t, _ in page]
    found = duckdb.sql(
        f"SELECT trace_id, {', '.join(RESULT_FIELDS)} FROM read_parquet(?)"
        " WHERE list_contains(?, trace_id) ORDER BY trace_id, evaluator, span_id NULLS FIRST",
        params=[results, ids],
    ).fetchall()
    per_trace: dict[str, list[tuple]] = {t: [] for t in ids}
    for row in found:
        per_trace[row[0]].append(tuple(row[1:]))
    return page, per_trace


def _check(base: str, root: Path) -> int:
    checked = 0
    with httpx.Client(base_url=base, timeout=30) as client:
        for sort in ("latency", "cost"):
            for order in ("asc", "desc"):
                for filters in ({}, {"app": "chat"}, {"app": "support-bot", "status": "OK"}):
                    for limit, offset in ((7, 0), (7, 14), (7, 63), (50, 50), (20, 300)):
                        url = f"/api/traces?sort={sort}&order={order}&limit={limit}"
                        url += f"&offset={offset}"
                        url += "".join(f"&{k}={v}" for k, v in filters.items())
                        got = client.get(url).json()["traces"]
                        page, results = _expected(root, sort, order, filters, limit, offset)
                        column = {"latency": "latency_ms", "cost": "cost_usd"}[sort]
                        assert [(t["trace_id"], t[column]) for t in got] == page, url
                        for t in got:
                            mine = [tuple(r[f] for f in RESULT_FIELDS) for r in t["results"]]
                            assert mine == results[t["trace_id"]], (url, t["trace_id"])
                        checked += len(got)
    return checked


def _compact_hour(root: Path, hour: Path) -> None:
    """One file per dataset for the hour, rows shuffled: what a compaction may leave."""
    for dataset in (root, root.parent / "traces"):  # these traces carry no spans
        folder = dataset / hour
        files = sorted(folder.glob("*.parquet"))
        assert len(files) > 1, folder
        table = pa.concat_tables([pq.read_table(f) for f in files])
        order = np.random.default_rng(7).permutation(table.num_rows)
        pq.write_table(table.take(order), folder / "compacted.parquet.tmp")
        for f in files:
            f.unlink()
        (folder / "compacted.parquet.tmp").rename(folder / "compacted.parquet")


def test_sorted_pages_by_position_are_duckdbs_order_by(tmp_path):
    root = tmp_path / "parquet"
    _batch(root, 150, 0, seed=1)
    _batch(root, 150, 1000, seed=2)
    store = Store(Datasets.beside(root))  # the positional path is the one taken
    query = TraceQuery(sort="latency", order="desc", limit=7, offset=0)  # the unique ones
    found = sort_bound(store, query,
                       lambda hours: trace_list._candidates(store, query, hours, by_file=True),
                       ("traces",), "key", None)  # fmt: skip
    assert found is not None and found.rows is not None and len(found.rows) == 7
    with serve_ui(root) as base:
        assert _check(base, root) > 500
        _batch(root, 100, 2000, seed=3)  # a worker adds files while the UI runs
        time.sleep(LISTING)
        assert httpx.get(f"{base}/api/traces?limit=1").json()["total"] == 400
        _check(base, root)
        hour = next(root.glob("date=*/hour=*")).relative_to(root)
        _compact_hour(root, hour)  # same rows, other files, other positions
        time.sleep(LISTING)
        _check(base, root)
