"""Records of a topic handed to one agent in batches, without faust's per-event path (issue 20).

faust delivers every record through its conductor, a topic queue, a stream, an ``Event`` and
the take buffer's processor, and tracks each for acks: ~38 % of the worker's CPU with
operational evaluators, paid for the input trace and again for the scored trace read back
for Parquet. The worker commits its own offsets (``worker/checkpoint.py``) and never uses
faust's acks, so for the topics of its score and Parquet agents the fetch loop
(``worker/faust_delivery.py``) appends each record to a ``BatchChannel`` instead (``divert``),
and the loop takes batches from it with the same ``noack_take(max, within)`` as from a faust
stream. The session stage's turns and the scored sessions take the same path.

What faust's path did and this one keeps: order per partition (one fetch loop appends in
order); back pressure (a full channel makes the fetch loop wait, interruptible by a
rebalance as before); records of an ended consumer generation never reach the agent (they
are dropped when they arrive and when they are taken; the partition's owner reads them again
from the committed offset, as with faust's path, ``pipeline/kafka/generation.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

DIVERTED = "evalstream_diverted"  # faust App attribute: topic name -> BatchChannel


class Delivery:
    """One record handed to an agent: ``.message`` as on a faust ``Event``."""

    __slots__ = ("message",)

    def __init__(self, message: Any) -> None:
        self.message = message


class BatchChannel:
    """A bounded buffer of one topic's records, filled by the fetch loop, read in batches."""

    def __init__(self, maxsize: int, live: Callable[[Any], bool] = lambda message: True) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self.live = live  # a message of an ended generation is not kept
        self._buffer: deque[Delivery] = deque()
        self._ready = asyncio.Event()  # set when a batch may be taken
        self._room = asyncio.Event()  # set when there is room for one more record
        self._room.set()
        self._want = 1  # how many records make the taker's batch ready

    def __len__(self) -> int:
        return len(self._buffer)

    def offer(self, message: Any) -> Coroutine[Any, Any, None] | None:
        """Append ``message`` if there is room (``None``); else a coroutine that waits for
        room and appends it. A message of an ended generation is dropped."""
        if not self.live(message):
            return None
        if len(self._buffer) >= self.maxsize:
            return self._put_when_room(message)
        self._append(message)
        return None

    async def _put_when_room(self, message: Any) -> None:
        while len(self._buffer) >= self.maxsize:
            self._room.clear()
            await self._room.wait()
        if self.live(message):
            self._append(message)

    def _append(self, message: Any) -> None:
        self._buffer.append(Delivery(message))
        if len(self._buffer) >= self._want:
            self._ready.set()

    def clear(self) -> int:
        """Forget every buffered record (a rebalance began); returns how many."""
        dropped = len(self._buffer)
        self._buffer.clear()
        self._ready.clear()
        self._room.set()
        return dropped

    async def ack(self, delivery: Delivery) -> None:
        """Nothing to acknowledge: faust never tracked these records; the worker's
        checkpoint commits their offsets. (The agents share code with faust streams.)"""

    async def noack_take(self, max_: int, within: float) -> AsyncIterator[list[Delivery]]:
        """Batches of up to ``max_`` records: as soon as ``max_`` are buffered, else what is
        buffered after ``within`` seconds (nothing is yielded while the buffer is empty)."""
        while True:
            self._want = max_
            if len(self._buffer) < max_:
                self._ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), within)
            if not self._buffer:
                continue
            taken = [self._buffer.popleft() for _ in range(min(max_, len(self._buffer)))]
            self._room.set()
            batch = [delivery for delivery in taken if self.live(delivery.message)]
            if batch:
                yield batch


def divert(app: Any, topic: str, channel: BatchChannel) -> None:
    """Hand the records of ``topic`` to ``channel`` instead of faust's streams (the fetch
    loop of ``worker/faust_delivery.py`` reads the mapping). The topic is still subscribed
    through faust's conductor, so its partitions are assigned, sought and rebalanced as
    before; nothing else of faust sees its records."""
    if not hasattr(app, DIVERTED):
        setattr(app, DIVERTED, {})
    getattr(app, DIVERTED)[topic] = channel
    app.topics.add(app.topic(topic, value_type=bytes, key_type=bytes).clone(is_iterator=True))
