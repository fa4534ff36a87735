"""Consumer lag, measured in one place for the worker's gauge, its idle check and the
span assembler's idle check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

UNKNOWN = -1  # a partition whose end or position is not known yet (e.g. just assigned)


async def partition_lag(consumer: Any, tps: Iterable[Any]) -> dict[Any, int]:
    """Unread messages per partition of a faust/aiokafka consumer, ``UNKNOWN`` where unknown."""
    tps = list(tps)
    ends = await consumer.highwaters(*tps) if tps else {}
    lag = {}
    for tp in tps:
        position, end = await consumer.position(tp), ends.get(tp)
        lag[tp] = UNKNOWN if position is None or end is None else max(end - position, 0)
    return lag
