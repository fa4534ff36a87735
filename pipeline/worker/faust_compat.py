"""Every access to faust-streaming internals, in one module.

The worker replaces faust's commit path (faust commits the highest *contiguous* acked
offset, which stops short on transactional topics; see docs/guarantees.md), and for that it
needs a few things faust has no public API for. They are all here, so an upgrade of faust
is checked in one place: ``tests/pipeline/worker/test_faust_compat.py`` pins the version
range below (the same as pyproject.toml's) and checks that each internal still exists.
"""

from __future__ import annotations

import asyncio
import signal
import warnings
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

import faust
from aiokafka.structs import TopicPartition
from faust.exceptions import ProducerSendError

# The faust-streaming versions this module is written and tested against (pyproject.toml).
SUPPORTED_FAUST = ">=0.11,<0.16"
GUARD_FLAG = "_evalstream_guarded"


def installed_faust_version() -> str:
    return version("faust-streaming")


async def send_in_transaction(
    producer: Any,
    transactional_id: str | None,
    topic: str,
    key: bytes | None,
    value: bytes | None,
    partition: int | None = None,
) -> asyncio.Future[Any]:
    """Hand one message to the aiokafka producer of ``transactional_id`` (faust's plain
    producer when ``None``); returns its delivery future.

    faust's own ``Producer.send`` does the same behind a per-transaction lock and its sensor
    hooks; the worker's lock already keeps sends and commits apart (see sinks/kafka.py).
    """
    if transactional_id is None:
        target = producer._ensure_producer()
    else:
        target = producer._transaction_producers.get(transactional_id)
        if target is None:
            raise ProducerSendError(f"No transaction producer found for : {transactional_id}")
    return await target.send(topic, value, key=key, partition=partition)


def open_transaction_ids(producer: Any) -> list[str]:
    """Transactional ids for which faust has started a producer (one per source partition)."""
    return list(producer._transaction_producers)


async def abort_open_transactions(producer: Any) -> None:
    for transactional_id in open_transaction_ids(producer):
        await producer.abort_transaction(transactional_id)


async def commit_consumer_offsets(consumer: Any, offsets: dict[Any, int]) -> None:
    """Commit exactly these offsets (faust's public ``commit`` would pick its own)."""
    await consumer._commit(offsets)


async def commit_transactions(
    producer: Any, group_id: str, by_transaction: dict[str, dict[Any, int]]
) -> None:
    """Commit each transaction together with its source partition's offsets."""
    native = {
        tid: {TopicPartition(tp.topic, tp.partition): o for tp, o in offsets.items()}
        for tid, offsets in by_transaction.items()
    }
    await asyncio.gather(
        *(producer.commit_transactions({tid: tps}, group_id) for tid, tps in native.items())
    )


def route_faust_commits(consumer: Any, commit: Callable[..., Awaitable[bool]]) -> None:
    """Make faust's own commits (while it waits for streams, at shutdown) call ``commit``.

    Idempotent: both agents call it when they start.
    """
    if getattr(consumer, GUARD_FLAG, False):
        return
    consumer.commit = commit
    setattr(consumer, GUARD_FLAG, True)


async def committed_offset(app: faust.App, tp: Any) -> int | None:
    """The group's committed offset of ``tp`` (None when none), asked of the Kafka consumer."""
    thread = app.consumer._thread
    return await thread.call_thread(thread._ensure_consumer().committed, tp)


def forget_acked_below(consumer: Any, offsets: dict[Any, int]) -> None:
    """Drop faust's record of acked offsets (and offset gaps) below what we committed.

    faust trims its per-partition ``_acked`` list, ``_acked_index`` set and ``_gap`` interval
    tree only in its own commit path, which this worker replaces with its own commits: left
    alone they grow by every message (~140 bytes per trace, measured over a 1,000,000-trace
    backlog by ``benchmarks/throughput.py --memory-run``). Synchronous, like faust's ``ack``,
    so it never interleaves with one.
    """
    for tp, offset in offsets.items():
        acked = consumer._acked.get(tp)
        if acked:
            done = [o for o in acked if o < offset]
            if done:
                consumer._acked_index[tp].difference_update(done)
                acked[:] = [o for o in acked if o >= offset]
        gaps = consumer._gap.get(tp)
        if gaps:
            gaps.chop(0, offset)


def stop_waiting_for_streams(app: faust.App) -> None:
    """At shutdown, do not wait for the acks of events that will never be processed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        app.conf.stream_wait_empty = False


class DrainingWorker(faust.Worker):
    """A faust worker whose SIGTERM / SIGINT first run ``drain`` (flush and commit).

    A second signal after ``drain`` started (``is_stopping()`` true) shuts down at once.
    """

    drain: Callable[[], Awaitable[None]]
    is_stopping: Callable[[], bool]

    def on_setup_root_logger(self, logger: Any, level: int) -> None:
        """No terminal spinner: faust's sets the root logger to DEBUG (to spin on every
        record), so every debug call of aiokafka, faust and mode built a log record that
        the handlers then dropped: ~4 % of the worker's CPU in its profile (issue 20)."""
        self.spinner = None
        super().on_setup_root_logger(logger, level)

    def _on_sigterm(self) -> None:
        self._drain_then(signal.SIGTERM)

    def _on_sigint(self) -> None:
        self._drain_then(signal.SIGINT)

    def _drain_then(self, sig: signal.Signals) -> None:
        if self.is_stopping():
            self._schedule_shutdown(sig)
            return
        self.add_future(self.drain())


async def fresh_end_offsets(consumer: Any, tps: list[Any]) -> dict[Any, int]:
    """End offsets asked of the broker now (last stable offsets under read_committed).

    faust's ``highwaters`` under exactly-once are the last *fetch's* stable offsets, so a
    partition not fetched since new data was committed to it looks read to its end; the
    session topics get their data only after the scored traces commit, so their idle check
    needs a fresh answer.
    """
    if not tps:
        return {}
    thread = consumer._thread
    return dict(await thread.call_thread(thread._ensure_consumer().end_offsets, list(tps)))


async def seek_fully_to_committed(consumer: Any, read_by_agents: Callable[[str], bool]) -> Any:
    """aiokafka's ``seek_to_committed``, also for partitions committed at offset 0 or never.

    aiokafka seeks only partitions whose committed offset is > 0 (``if offset and offset >
    0``). faust calls it to take back records it fetched but dropped (after a rebalance, and
    when it fetched while its flow was stopped); a partition committed at 0 (or not at all)
    kept its fetch position, and the dropped records were never read again. A partition
    without a committed offset of a topic the agents read (and ack) goes to its first
    offset (the worker's ``consumer_auto_offset_reset`` is ``earliest``); table changelogs
    and faust's leader topic are left alone.
    """
    committed = await consumer.seek_to_committed()
    never = [tp for tp, o in committed.items() if o is None and read_by_agents(tp.topic)]
    for tp, offset in committed.items():
        if offset == 0:
            consumer.seek(tp, 0)
    if never:
        await consumer.seek_to_beginning(*never)
    return committed


def install_full_seek_to_committed() -> None:
    """faust's consumer thread seeks with ``seek_fully_to_committed`` (every faust consumer
    of this process); idempotent."""
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    async def seek_to_committed(self: Any) -> Any:
        consumer = self._ensure_consumer()
        read_by_agents = self.consumer.app.topics.acks_enabled_for
        return await self.call_thread(seek_fully_to_committed, consumer, read_by_agents)

    AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign]


def changelog_topics(app: faust.App) -> set[str]:
    """The changelog topic of every table of ``app``."""
    return {table.changelog_topic.get_topic_name() for table in app.tables.values()}


def install_fresh_recovery_highwaters(changelogs: set[str]) -> None:
    """Table recovery reads these changelog topics' partitions up to their end asked of the
    broker now (other tables keep faust's way; call again to add topics).

    Under exactly-once faust takes a changelog partition's end from aiokafka's
    ``last_stable_offset``: the last *fetch's* answer, ``None`` for a partition not fetched
    since it was assigned (faust then takes -1: nothing to read). So a table partition taken
    over in a rebalance started empty (a late turn opened a new session instead of version
    2), or recovery crashed with faust's ``ConsistencyError`` (read offset > highwater -1).
    The broker's end offset under read_committed is the last stable offset; faust reads
    up to the marker before it and then, after two idle 5 s polls, sees that its position is
    past it (``detect_aborted_tx``), so a rebalance that recovers sessions pauses ~10 s.
    """
    from faust.tables.recovery import Recovery

    fresh: set[str] = getattr(Recovery, "_evalstream_fresh_changelogs", set())
    fresh |= changelogs
    Recovery._evalstream_fresh_changelogs = fresh  # type: ignore[attr-defined]
    if getattr(Recovery, GUARD_FLAG, False):
        return
    stale = Recovery._build_highwaters

    async def build_highwaters(
        self: Any, consumer: Any, tps: Any, destination: Any, title: str
    ) -> None:
        await stale(self, consumer, tps, destination, title)
        chosen = [tp for tp in tps if tp.topic in fresh]
        if not self.app.in_transaction or not chosen:
            return
        ends = await fresh_end_offsets(consumer, chosen)
        for tp in chosen:  # faust's convention: the last offset, -1 when empty
            destination[tp] = ends[tp] - 1 if ends.get(tp) is not None else -1

    Recovery._build_highwaters = build_highwaters  # type: ignore[method-assign]
    setattr(Recovery, GUARD_FLAG, True)


def partition_count(app: faust.App, topic: str) -> int | None:
    """How many partitions ``topic`` has, from the consumer's cluster metadata (None: not
    known to it)."""
    partitions = app.consumer._thread._ensure_consumer().partitions_for_topic(topic)
    return None if partitions is None else len(partitions)
