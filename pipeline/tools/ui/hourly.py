"""Answers computed per hour partition once and remembered, for aggregates that add up.

Data files never change once written (a replayed file replaces one under the same name and
gets a new size/mtime signature), so the answer of an hour stays right until one of that
hour's files changes. A live worker only adds files to the newest hours: only those are
computed again, and a page over a month of data costs the same as over one hour.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pipeline.tools.ui.layout import in_range
from pipeline.tools.ui.store import Store

HOUR_SQL = "floor(epoch(timestamp) / 3600)::BIGINT * 3600"
"""SQL of a row's hour partition start (epoch seconds), from the trace timestamp."""


def hour_of(epoch_seconds: float) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def by_hour(
    store: Store,
    datasets: tuple[str, ...],
    key: Any,
    compute: Callable[[frozenset[datetime]], dict[datetime, Any]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    allowed: frozenset[datetime] | None = None,
    empty: Any = None,
) -> dict[datetime, Any]:
    """``{hour: answer}`` for every hour partition of ``datasets`` in the range.

    ``key`` names the question (filters included); ``compute(hours)`` answers it for the
    hours not remembered yet, in one query; hours it does not mention get ``empty``.
    """
    signatures: dict[datetime, list] = {}
    for name in datasets:
        for f in in_range(store.files(name), since, until, allowed):
            signatures.setdefault(f.hour_start, []).append((name, f.path, f.signature))
    answers: dict[datetime, Any] = {}
    missing: dict[datetime, tuple] = {}
    for hour, files in signatures.items():
        signature = tuple(sorted(files))
        cached = store.memo.get(("hourly", key, hour, signature))
        if cached is None:
            missing[hour] = signature
        else:
            answers[hour] = cached
    if missing:
        found = compute(frozenset(missing))
        for hour, signature in missing.items():
            answers[hour] = found.get(hour, empty)
            store.memo.put(("hourly", key, hour, signature), answers[hour])
    return answers
