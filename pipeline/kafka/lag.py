"""Consumer lag, measured in one place for the worker's gauges, its idle check and the
span assembler's idle check.

Two measures: ``partition_lag`` (end minus the fetch position: has everything been *read*,
for the idle checks) and ``offsets_behind`` (end minus an offset the worker tracks: the
committed one for ``evalstream_consumer_lag``, the processed one for
``evalstream_consumer_lag_unprocessed``). The fetch position runs ahead of both: faust
prefetches into its buffer, so a gauge based on it read 0 during a 6,000-message backlog
(issue 16, item 5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


async def offsets_behind(
    consumer: Any, offsets: Mapping[str, Mapping[Any, int]]
) -> dict[str, dict[Any, int]]:
    """Per named offset map (e.g. committed, processed): end offset minus that offset, per
    partition, from one end-offsets request; ``UNKNOWN`` where either is unknown (< 0)."""
    tps = sorted({tp for per_tp in offsets.values() for tp in per_tp})
    ends = await consumer.highwaters(*tps) if tps else {}
    behind: dict[str, dict[Any, int]] = {}
    for name, per_tp in offsets.items():
        behind[name] = {}
        for tp, offset in per_tp.items():
            end = ends.get(tp)
            known = end is not None and offset >= 0
            behind[name][tp] = max(end - offset, 0) if known else UNKNOWN
    return behind
