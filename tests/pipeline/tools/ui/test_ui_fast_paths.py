"""The UI's faster paths give the answers a direct query over every file gives: counts of
trace rows per file, spans found through their trace-id index, a sorted page's results read
by id alone, the local listing; and the DuckDB settings reach every cursor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.sinks.dataset import entries
from pipeline.tools.ui import trace_list
from pipeline.tools.ui.filters import TraceQuery
from pipeline.tools.ui.hourly import HOUR_SQL, hour_of
from pipeline.tools.ui.key_index import paths_with
from pipeline.tools.ui.layout import DataFile, Dataset, Datasets
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.trace_detail import load_trace
from pipeline.tools.ui.trace_list import hour_counts, list_traces

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def flat_dir(tmp_path_factory):
    """Traces of one version each with spans, two files per hour (two writes), 3 hours."""
    from pipeline.tools.demo.samples import sample_traces
    from pipeline.tools.ui.testing import score_traces, with_spans, write_datasets

    root = tmp_path_factory.mktemp("ui-fast") / "parquet"
    traces = [with_spans(t, i) for i, t in enumerate(
        sample_traces(240, start=START, spread_seconds=3 * 3600))]  # fmt: skip
    write_datasets(root, score_traces(traces[::2]))  # every other trace: each hour in both
    write_datasets(root, score_traces(traces[1::2]), first_offset=1000)
    return root


@pytest.fixture(scope="module")
def store(flat_dir):
    return Store(Datasets.beside(flat_dir), listing_ttl=0)


def test_every_cursor_has_the_database_settings(store):
    """``SET`` on the first connection alone left every cursor re-reading footers."""
    rows = store.rows(
        "SELECT name, value FROM duckdb_settings() WHERE name IN"
        " ('parquet_metadata_cache', 'late_materialization_max_rows')"
    )
    settings = {r["name"]: r["value"] for r in rows}
    assert settings == {"parquet_metadata_cache": "true", "late_materialization_max_rows": "0"}


def _per_hour(store: Store, query: TraceQuery) -> dict[datetime, int]:
    """Matching traces per hour of their timestamp, one query over every traces file."""
    conditions, params = trace_list._trace_conditions(query)
    content, content_params = trace_list._content_filters(query)
    traces = store.source("traces")
    where = " AND ".join(conditions + content) or "true"
    rows = store.rows(
        f"SELECT {HOUR_SQL} AS hour, count(*) AS n FROM {traces.sql} WHERE {where} GROUP BY 1",
        [*traces.params, *params, *content_params],
    )
    return {hour_of(r["hour"]): r["n"] for r in rows}


@pytest.mark.parametrize("query", [
    TraceQuery(), TraceQuery(q="refund"), TraceQuery(q="a"), TraceQuery(q="no such words"),
    TraceQuery(app="chat"), TraceQuery(app="chat", q="the"), TraceQuery(status="ERROR"),
    TraceQuery(model="gpt-4o-mini", status="OK", since=START + timedelta(minutes=50)),
])  # fmt: skip
def test_counts_per_file_are_the_counts_per_hour(store, query):
    plan = trace_list._candidates(store, query, by_file=True)
    assert plan.by_file and "filename AS file" in plan.count_sql  # the per-file count ran
    counts = {hour: n for hour, n in hour_counts(store, query).items() if n}
    assert counts == _per_hour(store, query)
    assert list_traces(store, query).total == sum(_per_hour(store, query).values())


def test_spans_come_from_the_file_their_index_names(store):
    spans = store.source("spans")
    every = store.rows(
        f"SELECT trace_id, span_id FROM {spans.sql} ORDER BY trace_id, span_id", spans.params
    )
    expected: dict[str, list[str]] = {}
    for row in every:
        expected.setdefault(row["trace_id"], []).append(row["span_id"])
    checked = 0
    for trace_id in sorted(expected)[::17]:
        detail = load_trace(store, trace_id)
        assert sorted(s["span_id"] for s in detail["spans"]) == expected[trace_id]
        hour = detail["timestamp"].replace(minute=0, second=0, microsecond=0)
        in_hour = [f for f in store.files("spans") if f.hour_start == hour]
        assert len(paths_with(store, "spans", "trace_id", trace_id)) == 1 < len(in_hour)
        checked += 1
    assert checked > 5


@pytest.mark.parametrize("sort", ["latency", "cost"])
def test_a_sorted_pages_results_are_each_traces_results(store, sort):
    """Pages spread over every hour read their results by id (no time condition)."""
    results = store.source("results")
    by_trace: dict[str, list[tuple]] = {}
    for r in store.rows(
        f"SELECT trace_id, evaluator, score, passed FROM {results.sql}"
        " ORDER BY trace_id, evaluator, span_id NULLS FIRST",
        results.params,
    ):
        by_trace.setdefault(r["trace_id"], []).append((r["evaluator"], r["score"], r["passed"]))
    page = list_traces(store, TraceQuery(sort=sort, limit=60, offset=20))
    times = [t["timestamp"] for t in page.traces]
    assert max(times) - min(times) > trace_list.SPREAD  # the id index chose the files
    for trace in page.traces:
        found = [(r["evaluator"], r["score"], r["passed"]) for r in trace["results"]]
        assert found == by_trace[trace["trace_id"]] and found


def test_local_listing_is_what_the_sinks_listing_finds(tmp_path):
    root = tmp_path / "traces"
    for relative in [
        "date=2026-11-25/hour=10/a.parquet",
        "date=2026-11-25/hour=10/b.parquet",
        "date=2026-11-25/hour=10/.tmp-c.parquet",
        "date=2026-11-25/hour=10/_d.parquet",
        "date=2026-11-25/hour=10/notes.txt",
        "date=2026-11-25/hour=9/e.parquet",
        "date=2026-11-26/hour=0/f.parquet",
        "date=2026-13-40/hour=1/g.parquet",
        "date=2026-11-25/hour=24/h.parquet",
        "date=2026-11-25/hour=10/x/i.parquet",
        "date=2026-11-25/j.parquet",
        "k.parquet",
        "other/hour=1/l.parquet",
    ]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x" * len(relative))
    (root / "date=2026-11-25/hour=11").mkdir()  # empty hour
    dataset = Datasets.beside(tmp_path / "parquet").traces
    assert isinstance(dataset, Dataset)
    expected = sorted(
        (DataFile(e.path.uri, e.hour_start, (e.info.size, e.info.mtime_ns))
         for e in entries(dataset.root)
         if e.path.name.endswith(".parquet") and not e.path.name.startswith((".", "_"))),
        key=lambda f: (f.hour_start, f.path),
    )  # fmt: skip
    assert dataset.files() == expected
    assert [f.path.rsplit("/", 1)[1] for f in expected] == ["e.parquet", "a.parquet",
                                                            "b.parquet", "f.parquet"]  # fmt: skip
    assert Datasets.beside(tmp_path / "none" / "parquet").traces.files() == []
