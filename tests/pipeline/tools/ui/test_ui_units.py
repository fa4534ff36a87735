"""Pure parts of the UI: span layout, partition pruning, query parsing, the LIKE escape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.tools.ui.exceptions import BadQueryError
from pipeline.tools.ui.filters import TraceQuery
from pipeline.tools.ui.layout import DataFile, in_range
from pipeline.tools.ui.trace_list import _page_hours, like_pattern
from pipeline.tools.ui.waterfall import tree_order, waterfall

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _span(span_id, parent=None, start=0, end=10):
    return {"span_id": span_id, "parent_id": parent, "name": span_id,
            "start_time": T0 + timedelta(milliseconds=start),
            "end_time": T0 + timedelta(milliseconds=end)}  # fmt: skip


def test_tree_order_depth_orphans_and_cycles():
    spans = [_span("c2", "root", 50, 90), _span("root", None, 0, 100), _span("c1", "root", 0, 40),
             _span("g", "c1", 10, 20), _span("orphan", "gone", 5, 6),
             _span("x", "y"), _span("y", "x")]  # fmt: skip
    order = [(s["span_id"], depth) for s, depth in tree_order(spans)]
    assert order[:4] == [("root", 0), ("c1", 1), ("g", 2), ("c2", 1)]
    assert ("orphan", 0) in order  # a missing parent makes a root, the span is not lost
    assert sorted(name for name, _ in order) == sorted(s["span_id"] for s in spans)


def test_waterfall_places_bars_on_the_trace_time_axis():
    bars = {b.span["span_id"]: b for b in waterfall([_span("root", None, 0, 200),
                                                     _span("llm", "root", 100, 200)])}  # fmt: skip
    assert (bars["root"].left_pct, bars["root"].width_pct) == (0.0, 100.0)
    assert (bars["llm"].left_pct, bars["llm"].width_pct, bars["llm"].duration_ms) == (
        50.0, 50.0, 100.0)  # fmt: skip
    untimed = waterfall([{"span_id": "a", "start_time": None, "end_time": None}])
    assert untimed[0].duration_ms is None


def test_in_range_keeps_the_hours_that_can_hold_the_range():
    files = [DataFile(f"h{h}", T0 + timedelta(hours=h)) for h in range(4)]
    since, until = T0 + timedelta(hours=1, minutes=30), T0 + timedelta(hours=2, minutes=5)
    assert [f.path for f in in_range(files, since, until)] == ["h1", "h2"]
    assert [f.path for f in in_range(files, hours=frozenset({T0}))] == ["h0"]
    assert len(in_range(files)) == 4


def test_page_hours_skip_whole_hours_before_the_page():
    counts = {T0 + timedelta(hours=h): n for h, n in enumerate([30, 0, 40, 50])}
    hours, skip = _page_hours(counts, TraceQuery(limit=50, offset=60))  # newest first
    # hour 3 (50 rows) lies wholly before the page; 10 rows of hour 2 are skipped.
    assert hours == {T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)} and skip == 10
    hours, skip = _page_hours(counts, TraceQuery(limit=20, offset=55))
    assert hours == {T0 + timedelta(hours=2)} and skip == 5
    hours, skip = _page_hours(counts, TraceQuery(limit=50, offset=0, order="asc"))
    assert hours == {T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)} and skip == 0


def test_like_pattern_is_literal():
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_query_parsing():
    query = TraceQuery.parse([("passed", "false"), ("app", ""), ("since", "2026-11-25T10:00")])
    assert query.passed is False and query.app is None and query.since == T0
    assert query.query_string(offset=50) == "since=2026-11-25T10%3A00%3A00Z&passed=false&offset=50"
    with pytest.raises(BadQueryError, match="'limit'"):
        TraceQuery.parse([("limit", "501")])
