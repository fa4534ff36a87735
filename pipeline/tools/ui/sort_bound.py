"""The range of the sort column that holds a page's rows, so DuckDB reads and sorts few rows.

Sorting a million traces by latency to show 50 of them is the slow part of that page. The
column's values are remembered per filter like the hour counts (8 bytes a trace, no copy of
the rows), per file where a trace is one row of one file (else per hour partition); sorted,
they name the page's first and last values, and the files holding values between them are
the only ones the page reads. The page is then the rows with a value in that range, sorted,
after skipping the ones of the range that come before it: ``latency_ms BETWEEN ? AND ? ...
LIMIT 50 OFFSET k``, where ``k`` is the page's offset minus the values outside the range
ahead of it. Ties at either end stay in the range (it is inclusive) and are ordered by
``trace_id`` as in a full sort, so the page is exactly the one a full sort gives. Without
ties in the range, ``trace_id`` is left out of the sort: random ids are the costly column to
decode, and DuckDB then decodes them (and the other columns) only for the page's rows' files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from pipeline.tools.ui.filters import SORT_COLUMNS, TraceQuery
from pipeline.tools.ui.hourly import HOUR_SQL, by_hour, hour_of
from pipeline.tools.ui.key_index import file_rows
from pipeline.tools.ui.store import Store

BOUNDED_SORTS = ("latency", "cost")
"""Trace-level sort keys; the score sort groups results rows and is left to DuckDB."""


@dataclass(frozen=True)
class FileValues:
    """One file's (or hour's) values of the sort column, sorted, and each value's row
    position in its file (``file_row_number``, 2 bytes where the file has fewer than 65,536
    rows; meaningless where values are kept per hour)."""

    values: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class SortedValues:
    """Every value sorted, with the file (an index into ``names``) and row of each."""

    values: np.ndarray
    files: np.ndarray
    rows: np.ndarray
    names: list[str | None]
    has_nan: bool


@dataclass(frozen=True)
class PageRange:
    condition: str
    """SQL the page's rows meet (``column BETWEEN ? AND ?``), with ``params``."""
    params: list[float]
    offset: int
    """Rows meeting ``condition`` that come before the page."""
    tied: bool
    """Whether values repeat in the range (then ``trace_id`` orders them)."""
    files: frozenset[str] | None
    """The files holding the range's values, where the values are known per file."""
    rows: tuple[tuple[str, int], ...] | None = None
    """The page's rows exactly, as (file, ``file_row_number``), where values are known per
    file and no run of equal values crosses the page's edges (then which of the tied rows
    belong to the page depends on their ``trace_id``, which is not remembered)."""


def sort_bound(
    store: Store,
    query: TraceQuery,
    plan_for: Callable[[frozenset[datetime] | None], object],
    datasets: tuple[str, ...],
    key: str,
    allowed: frozenset[datetime] | None,
) -> PageRange | None:
    """The page is the rows meeting the range's condition, sorted, from its offset on; None
    when no range is known (the page reaches the rows without a value)."""
    if query.sort not in BOUNDED_SORTS:
        return None
    column = SORT_COLUMNS[query.sort]

    def values(hours: frozenset[datetime]) -> dict[datetime, dict[str | None, FileValues]]:
        plan = plan_for(hours)  # per file where the plan names files, else per hour
        file = "filename" if plan.by_file else "NULL::VARCHAR"
        row = "file_row_number" if plan.by_file else "NULL::BIGINT"
        table = store.arrow(  # Arrow, not Python floats: a million values cost no objects
            f"SELECT {HOUR_SQL} AS hour, {file} AS file,"
            f" list({{'v': {column}, 'r': {row}}}) AS v"
            f" FROM ({plan.rows_sql}) WHERE {column} IS NOT NULL GROUP BY 1, 2",
            plan.params,
        )
        lists = table["v"].combine_chunks()
        flat = lists.values.field("v").to_numpy(zero_copy_only=False).astype(np.float64)
        rows = lists.values.field("r").fill_null(0).to_numpy(zero_copy_only=False)
        at = lists.offsets.to_numpy()
        out: dict[datetime, dict[str | None, FileValues]] = {}
        for i, (h, f) in enumerate(zip(table["hour"].to_pylist(), table["file"].to_pylist(),
                                       strict=True)):  # fmt: skip
            v, r = flat[at[i] : at[i + 1]], rows[at[i] : at[i + 1]]
            order = np.argsort(v, kind="stable")
            out.setdefault(hour_of(h), {})[f] = FileValues(v[order], file_rows(r[order]))
        return out

    per_hour = by_hour(store, datasets, ("values", column, key), values, since=query.since,
                       until=query.until, allowed=allowed, empty={})  # fmt: skip
    index = _sorted(store, column, key, per_hour)
    known = index.values
    wanted = query.offset + query.limit
    if len(known) < wanted or index.has_nan:  # rows without a value: no range
        return None
    if query.order == "desc":  # the page is positions offset .. wanted - 1 from the top
        first, last = len(known) - 1 - query.offset, len(known) - wanted
    else:
        first, last = query.offset, wanted - 1
    low, high = sorted((float(known[first]), float(known[last])))
    start, end = np.searchsorted(known, low, "left"), np.searchsorted(known, high, "right")
    ahead = int(len(known) - end if query.order == "desc" else start)
    inside = known[start:end]
    tied = bool(np.any(inside[1:] == inside[:-1]))
    files, rows = None, None
    if all(name is not None for name in index.names):
        at = np.unique(index.files[start:end])
        files = frozenset(index.names[i] for i in at)
        if not files <= {f.path for f in store.files(datasets[0])}:  # DuckDB renamed one
            files = None
        elif start == min(first, last) and end == max(first, last) + 1:  # no tie at an edge
            rows = tuple(
                (index.names[f], int(r))
                for f, r in zip(index.files[start:end], index.rows[start:end], strict=True)
            )
    condition = f"{column} BETWEEN ? AND ?"
    return PageRange(condition, [low, high], query.offset - ahead, tied, files, rows)


def _sorted(
    store: Store, column: str, key: str, per_hour: dict[datetime, dict[str | None, FileValues]]
) -> SortedValues:
    """Every value sorted with its file and row: sorted once per set of remembered hours (the
    hours' answers are kept objects, so the set is known by their identities), then a page is
    a few binary searches and a slice, not a partition of a million values."""
    identity = tuple(sorted((hour, id(files)) for hour, files in per_hour.items()))
    memo_key = ("sorted values", column, key)
    cached = store.memo.get(memo_key)
    if cached is not None and cached[0] == identity:
        return cached[2]
    per_file = [(name, v) for files in per_hour.values() for name, v in files.items()]
    values = np.concatenate([np.empty(0), *(v.values for _, v in per_file)])
    sizes = [len(v.values) for _, v in per_file]
    code = np.int16 if len(per_file) < 32_768 else np.int32
    codes = np.repeat(np.arange(len(per_file), dtype=code), sizes)
    rows = np.concatenate([np.empty(0, np.uint16), *(v.rows for _, v in per_file)])
    order = np.argsort(values, kind="stable")
    known = values[order]
    has_nan = bool(len(known)) and bool(np.isnan(known[-1]))  # NaN sorts last
    found = SortedValues(known, codes[order], rows[order], [n for n, _ in per_file], has_nan)
    # the hours' objects are kept with it, so their ids stay theirs while this is remembered
    store.memo.put(memo_key, (identity, list(per_hour.values()), found))
    return found
