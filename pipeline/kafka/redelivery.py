"""faust's second copies of records after a rebalance, told apart in one place for every
agent that reads with ``noack_take`` (the worker's score and Parquet agents, the span
assembler): the worker's ``Checkpoint.first_delivery`` says whether a record is handed out
for the first time in its consumer generation; the copies are acked and dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pipeline.kafka.generation import GenerationGuard

log = logging.getLogger(__name__)

FirstDelivery = Callable[[Any, int, Any], bool]  # (tp, offset, generation) -> first time?


async def first_deliveries(
    stream: Any,
    events: list[Any],
    first_delivery: FirstDelivery,
    what: str = "record",
    generation: GenerationGuard | None = None,
) -> list[Any]:
    """The *events* handed out for the first time in the live consumer generation; the
    others, of an ended generation (``generation``, when given) or faust's second copies,
    are acked and dropped (one log line each naming *what* they were)."""
    if generation is not None:
        events = await generation.keep_live(stream, events, what)
    fresh, again = [], []
    for event in events:
        m = event.message
        (fresh if first_delivery(m.tp, m.offset, m.generation_id) else again).append(event)
    for event in again:
        await stream.ack(event)
    if again:
        log.info("dropped %d %s(s) faust handed out twice", len(again), what)
    return fresh
