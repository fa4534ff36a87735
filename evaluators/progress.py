"""What one evaluator call has done so far, shared by the threads that score its items and the
runner that reads it at the deadline.

An *item* (a slot) is one trace, or one (span, trace) target of ``apply_to``. Scoring one item
at a time, a thread takes the next slot with ``take`` and hands its results to ``finish``. If
one item hangs, the runner starts a second thread on the same ``Progress`` (``helper_due``):
it takes the slots after the hung one, so each item still gets its own result when time
allows. At the deadline ``close`` freezes the results: later finishes are dropped and no slot
is handed out any more; ``reason`` then says, slot by slot, why one has no result.
"""

from __future__ import annotations

import threading
import time

from schemas import EvaluationResult

# A single item call running longer than this fraction of the evaluator's timeout is taken
# for a hang: the items after it continue on a second thread (at most one per call).
HELP_AFTER_FRACTION = 0.25


class Progress:
    """Results of one call's slots (``None`` until scored); thread-safe."""

    def __init__(self, size: int, item_ids: list[str] | None = None, kind: str = "trace") -> None:
        self.results: list[list[EvaluationResult] | None] = [None] * size
        self.item_ids = item_ids or []  # the trace or span id of each slot, for the reasons
        self.kind = kind  # "trace" or "span"
        self.whole_batch = False  # a vectorised call over every slot is running
        self.helped = False  # a helper thread was started
        self._started: dict[int, float] = {}  # slot -> monotonic start, while it runs
        self._next = 0
        self._closed = False
        self._running_at_close: list[int] = []
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The next slot to score, or ``None`` when none is left (or the call is closed)."""
        with self._lock:
            if self._closed or self._next >= len(self.results):
                return None
            slot, self._next = self._next, self._next + 1
            self._started[slot] = time.monotonic()
            return slot

    def finish(self, slot: int, results: list[EvaluationResult]) -> None:
        with self._lock:
            self._started.pop(slot, None)
            if not self._closed:
                self.results[slot] = results

    def fill(self, results: list[list[EvaluationResult]]) -> None:
        """Every slot at once (a vectorised call that succeeded)."""
        with self._lock:
            if not self._closed and self._next == 0:
                self._next = len(self.results)
                self.results[:] = results

    def complete(self) -> bool:
        with self._lock:
            return all(r is not None for r in self.results)

    def helper_due(self, now: float, timeout_seconds: float) -> float | None:
        """When a helper thread should start (``<= now``: now), ``None`` if it never will:
        one already runs, nothing is left to hand out, or no single item is running."""
        with self._lock:
            if self.helped or self._closed or self._next >= len(self.results):
                return None
            if not self._started:
                return None
            return min(self._started.values()) + HELP_AFTER_FRACTION * timeout_seconds

    def close(self) -> list[list[EvaluationResult] | None]:
        """Freeze: the results so far (a copy); the slots still running are remembered."""
        with self._lock:
            self._closed = True
            self._running_at_close = sorted(self._started)
            return list(self.results)

    def reason(self, slot: int, evaluator: str, timed_out: str) -> str:
        """Why ``slot`` has no result after ``evaluator``'s call hit its deadline
        (``timed_out``: the message of that). The items that were running get it; the ones
        never started say which item(s) held them up."""
        running = self._running_at_close
        if self.whole_batch or slot in running or not running:
            return timed_out
        held = ", ".join(self.item_ids[s] for s in running if s < len(self.item_ids))
        kind = self.kind if len(running) == 1 else f"{self.kind}s"
        return f"not evaluated: {evaluator} was still on {kind} {held} at the deadline" + (
            f" ({timed_out})"
        )
