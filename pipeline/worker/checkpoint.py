"""The worker's checkpoint: which offsets are durable, which are committed, and the commit.

Shaped after quix-streams' ``quixstreams/checkpointing/checkpoint.py``: one object owns the
offsets and the commit, and the commit reads as numbered steps. An offset here is always
"the next offset to read" of a partition (last processed + 1), as Kafka commits it.

*Durable* means every effect of the messages below the offset is safe: their sends are
scheduled in the partition's transaction, or their Parquet file is renamed, or their spans
are in the assembler's changelog. *Committed* means Kafka has the offset (with the
transaction under exactly-once). Both only ever move forwards: a redelivered batch cannot
move a durable offset back, and committing an offset at or below the committed one raises
``CheckpointError`` (it would mean reading again what was already counted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any, Protocol

from pipeline.exceptions import CheckpointError
from pipeline.sinks.kafka import TransactionalSender
from pipeline.worker import faust_compat

NOT_COMMITTED = -1


class OffsetCommitter(Protocol):
    async def commit(self, offsets: dict[Any, int]) -> dict[Any, int]:
        """Commit ``offsets``; returns the ones that were committed."""


class ConsumerCommitter:
    """At-least-once: the consumer group's offsets, nothing else."""

    def __init__(self, consumer: Callable[[], Any]) -> None:
        self.consumer = consumer

    async def commit(self, offsets: dict[Any, int]) -> dict[Any, int]:
        await faust_compat.commit_consumer_offsets(self.consumer(), offsets)
        return offsets


class TransactionCommitter:
    """Exactly-once: each source partition's transaction commits with its offsets.

    Right after a rebalance faust may not have started the producer of a newly assigned
    partition yet; its offsets wait for the next commit (nothing was sent for it either).
    """

    def __init__(self, app: Any, sender: TransactionalSender) -> None:
        self.app = app
        self.sender = sender

    async def commit(self, offsets: dict[Any, int]) -> dict[Any, int]:
        producer = self.app.producer
        started = set(faust_compat.open_transaction_ids(producer))
        by_id: dict[str, dict[Any, int]] = {}
        for tp, offset in offsets.items():
            transactional_id = self.sender.transactional_id(tp.topic, tp.partition)
            if transactional_id in started:
                by_id.setdefault(transactional_id, {})[tp] = offset
        await faust_compat.commit_transactions(producer, self.app.conf.id, by_id)
        return {tp: o for tps in by_id.values() for tp, o in tps.items()}


class Checkpoint:
    """Durable and committed offsets of the partitions this worker owns, and the commit."""

    def __init__(
        self,
        committer: OffsetCommitter,
        *,
        flush_sinks: Callable[[], None],
        wait_for_sends: Callable[[], Awaitable[None]],
        assignment: Callable[[], Collection[Any]],
        after_commit: Callable[[dict[Any, int]], None] = lambda offsets: None,
    ) -> None:
        self.committer = committer
        self.flush_sinks = flush_sinks
        self.wait_for_sends = wait_for_sends
        self.assignment = assignment
        self.after_commit = after_commit
        self.durable: dict[Any, int] = {}
        self.committed: dict[Any, int] = {}
        self.handed: dict[Any, tuple[Any, int]] = {}  # tp -> (generation, next offset)

    def mark_durable(self, offsets: dict[Any, int]) -> None:
        """Move durable offsets forwards; an offset at or below the current one is ignored."""
        for tp, offset in offsets.items():
            if offset > self.durable.get(tp, NOT_COMMITTED):
                self.durable[tp] = offset

    def first_delivery(self, tp: Any, offset: int, generation: Any) -> bool:
        """Whether an agent is handed the record at ``offset`` of ``tp`` for the first time
        in this consumer generation (then it is noted).

        After a rebalance faust resumes the partitions and only then seeks them back to their
        committed offsets, so what it fetched in between is handed out twice (seen in 1 of 11
        re-reads in the session rebalance tests); scored again, a trace would be sent twice
        in the same transaction. Within one generation the worker never reads a partition
        back, so a record at or below one handed out before is such a copy.
        """
        seen_generation, after = self.handed.get(tp, (None, NOT_COMMITTED))
        if seen_generation == generation and offset < after:
            return False
        self.handed[tp] = (generation, offset + 1)
        return True

    def start(self, tp: Any, committed: int | None, first_offset: int) -> None:
        """A partition was assigned: where the group stands (``None``: never committed).

        A never-committed partition gets its first offset as the durable point, so the next
        commit pins it: faust drops events it fetched but had not handed out when a
        rebalance starts, and re-reads only partitions that have a committed offset.
        """
        start = committed if committed is not None else first_offset
        self.committed[tp] = committed if committed is not None else NOT_COMMITTED
        self.durable[tp] = max(self.durable.get(tp, start), start)

    def rewind(self) -> None:
        """Forget what is durable but not committed (after a failed commit was rolled back)."""
        self.durable = dict(self.committed)

    def uncommitted(self) -> dict[Any, int]:
        """Durable offsets of assigned partitions that are past their committed offset."""
        assignment = self.assignment()
        return {
            tp: offset
            for tp, offset in self.durable.items()
            if tp in assignment and offset > self.committed.get(tp, NOT_COMMITTED)
        }

    async def commit(self) -> dict[Any, int]:
        """Commit every durable offset; returns what was committed. Call with the lock held,
        so no batch is half-sent while the transaction commits."""
        # 1. Flush the sinks that write at commit time (window aggregates join the
        #    transactions of their source partitions).
        self.flush_sinks()
        # 2. Wait until Kafka acknowledged every send (raises if one failed: nothing is
        #    committed, the events are read again).
        await self.wait_for_sends()
        # 3. Commit the offsets, with their transactions under exactly-once.
        offsets = self.uncommitted()
        if not offsets:
            return {}
        committed = await self.committer.commit(offsets)
        # 4. Record them (only forwards) and let faust forget its bookkeeping below them.
        self.record_committed(committed)
        self.after_commit(committed)
        return committed

    def record_committed(self, offsets: dict[Any, int]) -> None:
        """Note offsets Kafka has committed; refuses any at or below the recorded one."""
        for tp, offset in offsets.items():
            current = self.committed.get(tp, NOT_COMMITTED)
            if offset <= current:
                raise CheckpointError(f"commit of {tp} at {offset} is not past {current}")
        self.committed.update(offsets)
