"""The one reference clock of the operations tools: "now" and how a user writes a time.

Retention, compaction and the alerts runner judge ages against *now*. Each takes ``now`` as a
parameter, and the CLI commands a ``--now`` option, so a run (or a test) can fix the clock
instead of depending on the day it happens to run.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.exceptions import PipelineError


def utc_now() -> datetime:
    """The real clock, timezone-aware (UTC)."""
    return datetime.now(UTC)


def resolve_now(now: datetime | None) -> datetime:
    """*now* when given, else the real clock."""
    return now if now is not None else utc_now()


def parse_time(text: str) -> datetime:
    """ISO-8601; a naive time is UTC (as trace timestamps are)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PipelineError(
            f"invalid time {text!r}: use ISO-8601, e.g. 2026-11-25T12:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
