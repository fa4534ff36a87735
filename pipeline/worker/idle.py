"""``--stop-when-idle``: when a worker may stop, and what to say while it may not.

A worker may stop once no message came for the given time *and* nothing is left: every
assigned partition read to its end, every row in Parquet, every offset committed, and the
span assembler holding nothing. Past the idle time, a warning each ``BUSY_REPORT_SECONDS``
says what keeps it running (a batch job that never ends should say why).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

BUSY_REPORT_SECONDS = 60.0


class IdleWatch:
    """Time since the last activity, against the ``--stop-when-idle`` limit."""

    def __init__(self, stop_after: float | None, clock: Callable[[], float] = time.monotonic):
        self.stop_after = stop_after
        self.clock = clock
        self.last_activity = clock()
        self.last_report = clock()

    def touch(self) -> None:
        self.last_activity = self.clock()

    def idle_seconds(self) -> float:
        return self.clock() - self.last_activity

    def waited_enough(self) -> bool:
        return self.stop_after is not None and self.idle_seconds() >= self.stop_after

    def report_due(self) -> bool:
        """True at most once per ``BUSY_REPORT_SECONDS``."""
        if self.clock() - self.last_report < BUSY_REPORT_SECONDS:
            return False
        self.last_report = self.clock()
        return True


async def busy_reason(
    *,
    rebalancing: bool,
    measure_lag: Callable[[], Awaitable[dict[Any, int]]],
    rows_pending: int,
    uncommitted: dict[Any, int],
    assembler_idle: Callable[[], Awaitable[bool]] | None,
) -> str | None:
    """Why the worker cannot stop yet; None when it can."""
    if rebalancing:
        return "the consumer group is rebalancing"
    try:
        lag = await measure_lag()
    except Exception as exc:  # e.g. the broker is away: not idle, try again later
        return f"cannot tell whether caught up ({exc!r})"
    behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n != 0}
    if behind:
        return f"partitions not read to their end (-1: end unknown): {behind}"
    if rows_pending:
        return "rows not written to Parquet yet"
    if uncommitted:
        names = sorted(f"{tp.topic}[{tp.partition}]" for tp in uncommitted)
        return f"offsets not committed yet: {names}"
    if assembler_idle is not None and not await assembler_idle():
        return "the span assembler holds traces not emitted yet or spans not read"
    return None
