"""Which sessions of a partition the close step must look at, without scanning them all.

``SessionBook.close_due`` runs after every batch of the session-turns topic. Scanning every
entry of the table there cost about 100 ms per batch with 9,000 open sessions (the default
bound is 10,000), in the event loop, so a worker with many open sessions fell further behind
with every batch. Instead, per partition, a heap holds ``(window.wake(entry), key)``: the
watermark at which the entry can be due or expired. The close step pops only what the
watermark reached.

The heap is lazy: a change pushes the entry's new wake and leaves the old item in place; a
popped item whose entry moved on is skipped, since the change pushed its own. Entries that
change behind the book's back (faust restores the table from its changelog after a
rebalance; standby copies are replayed into it) are picked up by a full rebuild, done when
the partitions the worker owns change and at least every ``REBUILD_SECONDS`` as a backstop,
and when stale items outgrow the live ones.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pipeline.sessions import window

REBUILD_SECONDS = 30.0
_UNSET = object()


class DueIndex:
    """Per partition, a heap of (wake, key) over the session entries of ``data``."""

    def __init__(
        self,
        data: Mapping[str, Any],
        rules: window.Rules,
        owned: Callable[[], set[int] | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data = data
        self.rules = rules
        self.owned = owned
        self.clock = clock
        self.heaps: dict[int, list[tuple[float, str]]] = {}
        self.items = 0
        self.built_for: Any = _UNSET  # the owned partitions of the last rebuild
        self.built_at = -math.inf
        self.rebuilds = 0

    def push(self, key: str, entry: dict[str, Any]) -> None:
        """``entry`` is now what ``key`` holds (a session entry, not a partition's state)."""
        if self.built_for is _UNSET:
            return  # the first rebuild reads every entry anyway
        heapq.heappush(self.heaps.setdefault(entry["p"], []), (window.wake(entry, self.rules), key))
        self.items += 1

    def reached(self, partition: int, watermark: float | None) -> Iterator[str]:
        """Keys of ``partition`` whose wake the watermark reached (once each; ``None``: only
        what is due whatever the watermark). Their items are taken off the heap: the caller
        changes each entry (which pushes it again) or the entry stays as it is; an entry
        neither due nor expired now will have pushed a later wake already."""
        self._rebuild_if_stale()
        threshold = -math.inf if watermark is None else watermark
        heap = self.heaps.get(partition, [])
        seen: set[str] = set()
        again: list[tuple[float, str]] = []
        while heap and heap[0][0] <= threshold:
            item = heapq.heappop(heap)
            self.items -= 1
            if item[1] in seen:  # pushed again while this loop ran: for a later call
                again.append(item)
                continue
            seen.add(item[1])
            entry = self.data.get(item[1])
            if entry is not None and entry.get("p") == partition:
                yield item[1]
        for item in again:
            heapq.heappush(heap, item)
            self.items += 1

    def _rebuild_if_stale(self) -> None:
        owned = self.owned()
        stale = (
            owned != self.built_for
            or self.clock() - self.built_at >= REBUILD_SECONDS
            or self.items > 2 * len(self.data) + 1000
        )
        if not stale:
            return
        heaps: dict[int, list[tuple[float, str]]] = {}
        for key, entry in list(self.data.items()):
            if not window.is_partition_key(key):
                heaps.setdefault(entry["p"], []).append((window.wake(entry, self.rules), key))
        for heap in heaps.values():
            heapq.heapify(heap)
        self.heaps = heaps
        self.items = sum(len(heap) for heap in heaps.values())
        self.built_for, self.built_at = owned, self.clock()
        self.rebuilds += 1
