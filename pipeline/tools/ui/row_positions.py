"""Rows read by their position in their file, for pages whose rows are spread over many files.

A page sorted by latency or cost over a whole dataset holds 50 rows from ~45 files, and their
results sit in ~45 results files. The remembered sort values know each page row's file and
row position (``sort_bound``), and the results' id index each result row's (``key_index``),
so DuckDB is asked for exactly those rows (``file_row_number = ANY(...)``, then the exact
(file, row) pairs) instead of sorting a range of values or matching trace ids, and the
results' random ``trace_id`` column, the costly one to decode, is not read at all: each
result row's trace is known from its row's hash in the index. Two page traces whose ids had
the same 64-bit hash would be told apart by nothing here; the chance for a page is about
50 x 7,000,000 / 2^64 (1 in 50 billion) per page at this dataset's size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.tools.ui.key_index import index
from pipeline.tools.ui.store import Store

RESULT_COLUMNS = ("evaluator", "score", "passed", "label", "error", "span_id", "trace_version")
"""The list's result fields (``trace_id`` is known from the index)."""


AT_POSITIONS = (
    "file_row_number = ANY(?::BIGINT[])"
    " AND list_contains(?::VARCHAR[], filename || ':' || file_row_number)"
)
"""The condition of rows at given positions: the row numbers (pushed down to the scan), then
the exact (file, row) pairs; its two parameters are ``_at``'s."""


def _at(positions: list[tuple[str, int]]) -> tuple[list[int], list[str]]:
    """The row numbers to push down to the scan and the exact (file, row) pairs as keys."""
    rows = sorted({row for _, row in positions})
    return rows, [f"{path}:{row}" for path, row in positions]


def rows_at(
    store: Store, rows_sql: str, params: list[Any], positions: tuple[tuple[str, int], ...]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The rows of ``rows_sql`` (which has ``filename`` and ``file_row_number`` columns) at
    ``positions``, by position."""
    rows, keys = _at(list(positions))
    found = store.rows(f"SELECT * FROM ({rows_sql}) WHERE {AT_POSITIONS}", [*params, rows, keys])
    return {(r.pop("filename"), int(r.pop("file_row_number"))): r for r in found}


def results_by_position(store: Store, trace_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every results row of ``trace_ids``, per trace, read by row position."""
    hashes = store.rows("SELECT v, hash(v) AS h FROM unnest(?::VARCHAR[]) AS t(v)", [trace_ids])
    trace_of = {int(r["h"]): r["v"] for r in hashes}
    keys = np.sort(np.fromiter(trace_of, np.uint64, len(trace_of)))
    per_file = index(store, "results", "trace_id").rows_with_keys(keys)
    out: dict[str, list[dict[str, Any]]] = {t: [] for t in trace_ids}
    if not per_file:
        return out
    positions = [(p, int(r)) for p, (rows, _) in per_file.items() for r in rows]
    owner = {
        (p, int(r)): trace_of[int(h)]
        for p, (rows, found) in per_file.items()
        for r, h in zip(rows, found, strict=True)
    }
    source = store.source("results", only=frozenset(per_file), filename=True, row_number=True)
    rows, keys = _at(positions)
    found = store.rows(
        f"SELECT filename, file_row_number, {', '.join(RESULT_COLUMNS)} FROM {source.sql}"
        f" WHERE {AT_POSITIONS}",
        [*source.params, rows, keys],
    )
    for r in found:
        out[owner[(r.pop("filename"), int(r.pop("file_row_number")))]].append(r)
    for results in out.values():  # the order of ``ORDER BY evaluator, span_id NULLS FIRST``
        results.sort(key=lambda r: (r["evaluator"], r["span_id"] is not None, r["span_id"] or ""))
    return out
