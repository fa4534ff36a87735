"""Counters an application thread can bump without taking a lock.

A lock shared with the SDK's background threads would let a background thread that holds it
and is then paused by the interpreter (GIL hand-over every 5 ms) stall the application's
``log_trace`` for that long: measured at up to 22 ms in benchmarks/sdk_latency.py.
"""

from __future__ import annotations

import threading


class ThreadCounter:
    """A sum of per-thread cells: each thread only ever writes its own cell."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._cells: list[list[int]] = []

    def add(self, n: int = 1) -> None:
        cell = getattr(self._local, "cell", None)
        if cell is None:
            cell = self._local.cell = [0]
            self._cells.append(cell)  # list.append is atomic under the GIL
        cell[0] += n

    @property
    def value(self) -> int:
        return sum(cell[0] for cell in list(self._cells))
