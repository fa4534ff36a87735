"""Parquet rows of scored traces from the batches the worker just committed, not from a second
read of the scored-traces topic (issue 20, ``EVALSTREAM_PARQUET_FROM=memory``).

With ``topic`` (the old path) the Parquet loop reads the scored topic back (read_committed),
decodes every record and writes files named by scored-topic offsets; its position on the
scored topic, committed like any other offset, says what is in Parquet. ``memory`` keeps that
position and that naming, and feeds the same stage from the score loop's own messages. The
protocol, per scored partition ``p``:

**Invariant: one writer per scored partition.** The score loop sends every scored trace to the
scored partition of its *source* (input) partition (its key stays the trace id), so scored
``p`` holds only records of the transaction of input ``p`` (transactional id
``<app>-<group>-p``). Both topics have the same partition count (checked when partitions are
assigned), so faust's co-partitioned assignor gives input ``p`` and scored ``p`` to the same
worker, and their offsets commit in that one transaction. (With the topic path scored traces
are partitioned by trace-id hash: a scored partition gets records of every source partition's
transaction, sent by any worker, and no single process knows what it holds: that is why the
memory path needs this invariant and cannot run with the old partitioning.)

What is committed where, in order:

1. The score loop sends a batch's scored traces in their source partitions' transactions and
   keeps each message (the dict it serialised) with the send's delivery future (``sent``).
2. The checkpoint's commit waits for every send (each future then holds the record's offset
   in scored ``p``: aiokafka's ``RecordMetadata.offset``, final once the broker appended it)
   and commits the transactions with their input offsets. For each input partition whose
   transaction committed, its messages become rows at their scored offsets (``committed``);
   on a failed commit they are dropped (``reset``): Kafka may hold them committed, and the
   next generation reads them from the topic (below).
3. The Parquet stage adds those rows, and writes files as before (named by scored offsets,
   temp file + rename); after the rename scored ``p`` is durable up to the last offset + 1,
   and the next commit of transaction ``p`` commits that position (``C_p``) with the input
   offsets. A crash between 2 and 3 leaves ``C_p`` behind the committed records: recovery.

Recovery and hand-over, at every assignment (a restart after a crash, a rebalance):

- faust has started (and so fenced) transaction ``p`` before the worker's assignment handler
  runs; no earlier owner can commit into scored ``p`` any more. The handler removes files past
  ``C_p`` (as before) and asks the broker for scored ``p``'s end offset: under read_committed
  the last stable offset, ``E_p`` (``start_generation``). Every record below ``E_p`` is of an
  earlier owner or generation (committed or aborted: no open transaction is left); every
  record this generation sends lands at or after it.
- The Parquet loop reads scored ``p`` from ``C_p`` (the old path, kept for this): a record
  below ``E_p`` is decoded and added; the first record at or after ``E_p`` is one of this
  generation's own, already in memory: it is dropped, and ``p`` is *caught up*
  (``from_topic``), its fetching paused (an optimisation only: any later record read is
  dropped the same way).
- Own rows of ``p`` are handed to the stage only once ``p`` is caught up, so a file never
  covers an offset range with a hole the topic read has not filled; an own row below
  ``E_p`` (committed before the end was asked for) is dropped: the topic read has it.

So each committed scored trace is added exactly once: below ``E_p`` from the topic, at or
after ``E_p`` from memory; an aborted one never (the topic read skips it, memory drops the
rows of a failed commit); a file's rows are always contiguous from ``C_p``, so committing
``C_p`` after the rename is what the topic path did.

Not covered (documented): every worker of a group must run the same ``EVALSTREAM_PARQUET_FROM``
(a topic-path worker would write trace-id-partitioned records into scored partitions another
worker owns); switch with the workers stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

log = logging.getLogger(__name__)


@dataclass
class _Sent:
    partition: int  # source partition = scored partition
    delivery: list[Any]  # the sender puts the send's delivery future here
    message: dict[str, Any] | None  # None: decode ``body`` (a message cut to fit)
    body: bytes


class MemoryRecord:
    """A row's place in the scored topic, shaped like a channel delivery (``.message.tp``,
    ``.message.offset``) so the Parquet stage's flush treats both alike."""

    __slots__ = ("offset", "tp")

    def __init__(self, tp: Any, offset: int) -> None:
        self.tp = tp
        self.offset = offset

    @property
    def message(self) -> MemoryRecord:
        return self


Row = tuple[int, int, dict[str, Any]]  # (scored partition, offset, message)


@dataclass
class MemoryFeed:
    """The score loop's committed messages on their way to the Parquet stage (see above)."""

    sent_rows: list[_Sent] = field(default_factory=list)
    boundary: dict[int, int] = field(default_factory=dict)  # E_p of this generation
    caught_up: set[int] = field(default_factory=set)
    held: dict[int, list[Row]] = field(default_factory=dict)  # committed, p not caught up
    ready: list[Row] = field(default_factory=list)  # committed, for the stage
    recovered: dict[int, int] = field(default_factory=dict)  # read from the topic, per p
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def sent(self, partition: int, body: bytes, message: dict[str, Any] | None) -> list[Any]:
        """Note a scored trace handed to the sender; returns the list the sender puts its
        delivery future in (``TransactionalSender.send(..., delivery=...)``)."""
        delivery: list[Any] = []
        self.sent_rows.append(_Sent(partition, delivery, message, body))
        return delivery

    def committed(self, partitions: set[int]) -> None:
        """The transactions of these source partitions committed: their messages become rows
        (every delivery is done: the commit waited for all of them)."""
        if not self.sent_rows:
            return
        kept: list[_Sent] = []
        for sent in self.sent_rows:
            if sent.partition not in partitions:
                kept.append(sent)
                continue
            offset = sent.delivery[0].result().offset
            message = sent.message if sent.message is not None else orjson.loads(sent.body)
            self._place((sent.partition, offset, message))
        self.sent_rows = kept
        if self.ready:
            self.wakeup.set()

    def _place(self, row: Row) -> None:
        partition, offset, _ = row
        start = self.boundary.get(partition)
        if start is not None and offset < start:
            return  # committed before E_p was asked for: the topic read adds it
        if partition in self.caught_up:
            self.ready.append(row)
        else:
            self.held.setdefault(partition, []).append(row)

    def start_generation(self, ends: dict[int, int], committed: dict[int, int]) -> None:
        """Partitions were assigned: ``ends`` are the scored partitions' end offsets asked now
        (E_p), ``committed`` their committed positions (C_p).

        The revocation before dropped everything of the ended generation (``reset``); what
        is here was sent in this one, maybe before the ends were asked for: kept (a row
        committed below E_p is dropped, the topic read has it)."""
        self.boundary = dict(ends)
        self.caught_up = {p for p, end in ends.items() if committed.get(p, 0) >= end}
        log.info(
            "Parquet rows from memory; scored partitions read back (committed -> end): %s",
            {p: (committed.get(p, 0), end) for p, end in sorted(ends.items())},
        )
        held, self.held = self.held, {}
        for rows in held.values():
            for row in rows:
                self._place(row)
        if self.ready:
            self.wakeup.set()

    def reset(self) -> None:
        """Forget every message and row not yet handed to the stage (a rebalance or a failed
        commit: what Kafka committed of them is read from the topic by the next generation)."""
        self.sent_rows.clear()
        self.held.clear()
        self.ready.clear()
        self.wakeup.clear()
        self.boundary.clear()
        self.caught_up.clear()
        self.recovered.clear()

    def from_topic(self, partition: int, offset: int) -> bool:
        """Whether a record read back from scored ``partition`` is to be added from the topic
        (below E_p); else it is this generation's own, and the partition is caught up."""
        start = self.boundary.get(partition)
        if start is None or offset < start:
            self.recovered[partition] = self.recovered.get(partition, 0) + 1
            return True
        if partition not in self.caught_up:
            self.caught_up.add(partition)
            log.info(
                "scored partition %d caught up: %d record(s) read back, rows from memory from"
                " offset %d",
                partition,
                self.recovered.get(partition, 0),
                start,
            )
            held = self.held.pop(partition, [])
            kept = [row for row in held if row[1] >= start]
            self.ready.extend(kept)
            if kept:
                self.wakeup.set()
        return False

    def take_ready(self) -> list[Row]:
        rows, self.ready = self.ready, []
        self.wakeup.clear()
        return rows

    @property
    def pending(self) -> int:
        """Committed rows not yet in the stage (held or ready)."""
        return len(self.ready) + sum(len(rows) for rows in self.held.values())

    async def wait(self, timeout: float) -> None:
        """Until rows are ready, at most ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wakeup.wait(), timeout)
