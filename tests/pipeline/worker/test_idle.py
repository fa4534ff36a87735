"""--stop-when-idle: the idle clock and the reasons a worker keeps running."""

from __future__ import annotations

import asyncio
from collections import namedtuple

from pipeline.worker.idle import BUSY_REPORT_SECONDS, IdleWatch, busy_reason

TP = namedtuple("TP", "topic partition")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_idle_watch_waits_and_reports_at_most_once_a_minute():
    clock = Clock()
    watch = IdleWatch(5.0, clock)
    clock.now += 4
    assert not watch.waited_enough()
    clock.now += 2
    assert watch.waited_enough() and watch.idle_seconds() == 6
    watch.touch()
    assert not watch.waited_enough()
    assert not watch.report_due()
    clock.now += BUSY_REPORT_SECONDS
    assert watch.report_due() and not watch.report_due()
    assert not IdleWatch(None, clock).waited_enough()


def reason(lag=None, rows=0, uncommitted=None, assembler=None, rebalancing=False):
    async def measure():
        if isinstance(lag, Exception):
            raise lag
        return lag or {}

    async def run():
        idle = None
        if assembler is not None:

            async def idle():
                return assembler

        return await busy_reason(
            rebalancing=rebalancing,
            measure_lag=measure,
            rows_pending=rows,
            uncommitted=uncommitted or {},
            assembler_idle=idle,
        )

    return asyncio.run(run())


def test_busy_reasons_in_order():
    assert reason() is None
    assert reason(assembler=True) is None
    assert "rebalancing" in reason(rebalancing=True)
    assert "cannot tell" in reason(lag=OSError("broker away"))
    assert "t[1]" in reason(lag={TP("t", 0): 0, TP("t", 1): 3})
    assert "t[0]" in reason(lag={TP("t", 0): -1})  # end unknown is not caught up
    assert "Parquet" in reason(rows=2)
    assert "t[2]" in reason(uncommitted={TP("t", 2): 8})
    assert "assembler" in reason(assembler=False)
