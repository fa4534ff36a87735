"""A bound on the sort column that the page's rows must meet, so DuckDB sorts few rows.

Sorting a million traces by latency to show 50 of them is the slow part of that page; DuckDB
can skip rows cheaply when told that, say, only ``latency_ms >= 2,310`` can be on it. The
bound is the (offset + limit)-th value, found from the column's values per hour partition,
remembered per filter like the hour counts (8 bytes a trace, no copy of the rows). Ties at
the bound stay in (the condition is inclusive), so the page is exactly the one a full sort
gives.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np

from pipeline.tools.ui.filters import SORT_COLUMNS, TraceQuery
from pipeline.tools.ui.hourly import HOUR_SQL, by_hour, hour_of
from pipeline.tools.ui.store import Store

BOUNDED_SORTS = ("latency", "cost")
"""Trace-level sort keys; the score sort groups results rows and is left to DuckDB."""


def sort_bound(
    store: Store,
    query: TraceQuery,
    plan_for: Callable[[frozenset[datetime] | None], object],
    datasets: tuple[str, ...],
    key: str,
    allowed: frozenset[datetime] | None,
) -> tuple[str, float] | None:
    """``(condition, value)`` the page's rows meet (``column >= ?`` or ``<= ?``), or None."""
    if query.sort not in BOUNDED_SORTS:
        return None
    column = SORT_COLUMNS[query.sort]

    def values(hours: frozenset[datetime]) -> dict[datetime, np.ndarray]:
        plan = plan_for(hours)
        rows = store.rows(
            f"SELECT {HOUR_SQL} AS hour, list({column}) AS v FROM ({plan.rows_sql})"
            f" WHERE {column} IS NOT NULL GROUP BY 1",
            plan.params,
        )
        return {hour_of(r["hour"]): np.asarray(r["v"], dtype=np.float64) for r in rows}

    per_hour = by_hour(store, datasets, ("values", column, key), values, since=query.since,
                       until=query.until, allowed=allowed, empty=np.empty(0))  # fmt: skip
    known = np.concatenate([np.empty(0), *per_hour.values()])
    wanted = query.offset + query.limit
    if len(known) < wanted:  # the page reaches the rows without a value: no bound
        return None
    if query.order == "desc":
        return f"{column} >= ?", float(np.partition(known, len(known) - wanted)[-wanted])
    return f"{column} <= ?", float(np.partition(known, wanted - 1)[wanted - 1])
