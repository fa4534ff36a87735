"""Whether a batch an agent took may still take effect: its consumer generation is live.

An agent takes a batch, then waits (scoring outside the lock, or for the lock itself). If a
rebalance starts meanwhile, the revocation commits what is durable and the partitions may
move, or stay and be sought back to their committed offsets. A batch of the ended
generation that is sent and marked durable *after* that commit claims offsets the new
generation reads again, or lets a later commit pin offsets past records nobody sent. Seen
once in 12 runs of ``test_two_workers_split_partitions_and_score_each_trace_once`` on two busy
cores: a contiguous gap of 128 records in each of two partitions (51-178, 53-181), every
offset committed, the owner's log showing a rebalance and faust's ``begin_transaction``
failing on transactions still open. (faust waits for the agents' acks before it revokes,
but only up to a timeout; which path let the batch through there was not pinned down.)

A generation ends when the next rebalance starts: faust calls ``App.on_rebalance_start``
synchronously in the consumer's rebalance listener, before any revocation handler runs and
before the next generation's id is set, and every faust message carries the
``generation_id`` it was fetched in. The guard wraps that call to note the generation that
ends; an event of a noted generation is dropped unsent and not durable, and the partition's
next owner (maybe this worker) reads it again from the committed offset. A rebalance does not
end a generation before it starts, so nothing is dropped that will not be read again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


class GenerationGuard:
    """Tells events of the live consumer generation from those of an ended one."""

    def __init__(self, app: Any) -> None:
        self.app = app  # a faust App: consumer_generation_id, on_rebalance_start
        self.ended: set[Any] = set()
        start_rebalance = app.on_rebalance_start

        def on_rebalance_start() -> None:
            self.ended.add(app.consumer_generation_id)
            start_rebalance()

        app.on_rebalance_start = on_rebalance_start  # faust calls it on the instance

    def live(self, event: Any) -> bool:
        return self.live_message(event.message)

    def live_message(self, message: Any) -> bool:
        return getattr(message, "generation_id", None) not in self.ended

    def split(self, events: Sequence[Any], what: str) -> tuple[list[Any], list[Any]]:
        """(the live *events*, those of an ended generation); one log line for the latter."""
        live, ended = [], []
        for event in events:
            (live if self.live(event) else ended).append(event)
        if ended:
            log.info(
                "dropped %d %s(s) of an ended consumer generation; they are read again from"
                " the committed offset",
                len(ended),
                what,
            )
        return live, ended

    async def keep_live(self, stream: Any, events: Sequence[Any], what: str) -> list[Any]:
        """The live *events*; the others are acked (faust forgets them) and dropped."""
        live, ended = self.split(events, what)
        for event in ended:
            await stream.ack(event)
        return live

    async def batch_ended(self, stream: Any, events: Sequence[Any], what: str) -> bool:
        """Whether a batch kept by ``keep_live`` when it was taken (so all of one generation)
        has ended since; then its events are acked and dropped, all of them."""
        return not await self.keep_live(stream, events, what)
