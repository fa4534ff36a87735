"""Unit tests of the two faust/aiokafka fixes for a rebalance (``faust_compat``), without a
broker: aiokafka's and faust's own code runs against in-memory stand-ins for the broker side
(committed offsets, end offsets). Through the real broker they are covered by
``tests/pipeline/sessions/test_sessions_rebalance.py``.

1. aiokafka's ``seek_to_committed`` skips a partition committed at offset 0 (and one never
   committed), so records faust fetched and dropped in a rebalance were never read again.
2. faust's table recovery under exactly-once takes a changelog partition's end from the last
   fetch's stable offset: ``None`` right after the assignment, so nothing is recovered.
"""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.subscription_state import Assignment
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from pipeline.worker import faust_compat

TURNS = "app.session-turns"
CHANGELOG = "app-workers-sessions-changelog"


class BrokerlessConsumer(AIOKafkaConsumer):
    """aiokafka's consumer with its broker side in memory: committed offsets, end offsets,
    and a fetcher that records where it is told to go."""

    def __init__(self, committed: dict[TopicPartition, int | None], ends: dict | None = None):
        self._subscription = SimpleNamespace(
            subscription=SimpleNamespace(assignment=Assignment(set(committed))),
            assigned_partitions=lambda: set(committed),
            is_assigned=lambda tp: tp in committed,
        )
        self._committed = committed
        self._ends = ends or {}
        self._request_timeout_ms = 1000
        self._coordinator = SimpleNamespace(check_errors=lambda: None)
        self.sought: dict[TopicPartition, Any] = {}
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)

        def reset(partitions, strategy):
            self.sought.update(dict.fromkeys(partitions, "earliest"))
            return done

        self._fetcher = SimpleNamespace(
            seek_to=lambda tp, offset: self.sought.__setitem__(tp, offset),
            request_offset_reset=reset,
        )

    async def committed(self, partition):
        return self._committed[partition]

    async def end_offsets(self, partitions):
        return {tp: self._ends[tp] for tp in partitions}


def run(coro):
    return asyncio.run(coro)


PARTITIONS = {
    TopicPartition(TURNS, 0): 0,  # committed at its first offset
    TopicPartition(TURNS, 1): 17,
    TopicPartition(TURNS, 2): None,  # never committed
    TopicPartition(CHANGELOG, 0): None,  # a table changelog: no committed offset, ever
}


def test_aiokafka_does_not_seek_a_partition_committed_at_zero():
    """The root cause of the sessions lost after a failed commit in a rebalance."""

    async def main():
        consumer = BrokerlessConsumer(dict(PARTITIONS))
        await consumer.seek_to_committed()
        return consumer.sought

    assert run(main()) == {TopicPartition(TURNS, 1): 17}  # 0 and None keep their position


def test_seek_fully_to_committed_also_seeks_zero_and_never_committed_partitions():
    async def main():
        consumer = BrokerlessConsumer(dict(PARTITIONS))
        committed = await faust_compat.seek_fully_to_committed(consumer, lambda t: t == TURNS)
        return consumer.sought, committed

    sought, committed = run(main())
    assert sought == {
        TopicPartition(TURNS, 0): 0,
        TopicPartition(TURNS, 1): 17,
        TopicPartition(TURNS, 2): "earliest",
    }  # the changelog is left to faust's recovery
    assert committed == PARTITIONS  # what faust's perform_seek records, as before


def test_the_consumer_thread_seeks_fully_once_installed():
    faust_compat.install_full_seek_to_committed()

    async def main():
        consumer = BrokerlessConsumer(dict(PARTITIONS))
        acking = {TURNS}

        async def call_thread(fn, *args):
            return await fn(*args)

        thread = SimpleNamespace(
            _ensure_consumer=lambda: consumer,
            call_thread=call_thread,
            consumer=SimpleNamespace(
                app=SimpleNamespace(topics=SimpleNamespace(acks_enabled_for=acking.__contains__))
            ),
        )
        await AIOKafkaConsumerThread.seek_to_committed(thread)
        return consumer.sought

    assert run(main()) == {
        TopicPartition(TURNS, 0): 0,
        TopicPartition(TURNS, 1): 17,
        TopicPartition(TURNS, 2): "earliest",
    }


def recovery_highwaters(topic: str, end: int, in_transaction: bool = True) -> int:
    """faust's ``_build_highwaters`` (as installed) for one changelog partition just
    assigned (its aiokafka state fresh: no fetch yet), the broker's end offset ``end``."""
    tp = TopicPartition(topic, 0)

    async def main():
        consumer = BrokerlessConsumer({tp: None}, ends={tp: end})

        async def call_thread(fn, *args):
            return await fn(*args)

        thread = SimpleNamespace(
            consumer=SimpleNamespace(in_transaction=in_transaction),
            _ensure_consumer=lambda: consumer,
            call_thread=call_thread,
        )

        async def highwaters(*tps):  # faust's ThreadDelegateConsumer.highwaters
            return await AIOKafkaConsumerThread._highwaters(thread, list(tps))

        faust_consumer = SimpleNamespace(highwaters=highwaters, _thread=thread)
        recovery = SimpleNamespace(
            app=SimpleNamespace(in_transaction=in_transaction),
            log=logging.getLogger("test"),
            _highwater_logtable=lambda highwaters, title: "",
        )
        destination: dict = {}
        await Recovery._build_highwaters(recovery, faust_consumer, {tp}, destination, "active")
        return destination[tp]

    return run(main())


def test_recovery_reads_a_taken_over_changelog_partition_to_the_brokers_end():
    faust_compat.install_fresh_recovery_highwaters({CHANGELOG})
    # 12 = the last stable offset: faust's convention is the last offset (11), as without
    # transactions, where faust asks the broker too
    assert recovery_highwaters(CHANGELOG, 12) == 11
    assert recovery_highwaters(CHANGELOG, 12, in_transaction=False) == 11
    assert recovery_highwaters(CHANGELOG, 0) == -1  # empty: nothing to read


def test_faust_alone_sees_nothing_to_recover_on_a_freshly_assigned_changelog_partition():
    """The root cause of the taken-over partitions that started empty: the last stable
    offset of a partition not fetched since its assignment is None, faust makes it -1
    (nothing to read) although the broker holds 12 records. Other tables keep faust's way."""
    faust_compat.install_fresh_recovery_highwaters({CHANGELOG})
    assert recovery_highwaters("app-workers-other-changelog", 12) == -1


def test_every_table_of_the_worker_recovers_to_the_brokers_end(
    kafka_bootstrap, new_topic, tmp_path
):
    """The worker (built for real, not started) installs the fresh ends for each of its
    tables. Issue 18: the span assembler's table kept faust's ends, so a spans partition
    taken over in a rebalance started empty (the rerouting test once emitted every trace
    with half its spans: [1, 2, 2, 2] instead of [3, 3, 4, 4])."""
    from pipeline.settings import load_settings
    from pipeline.worker.app import TraceWorker

    topic, spans = new_topic(partitions=2), new_topic(partitions=2)
    settings = load_settings(
        bootstrap_servers=kafka_bootstrap, input_topic=topic, spans_topic=spans,
        consumer_group=f"{topic}-workers", parquet_dir=tmp_path, state_dir=tmp_path / "state",
        assembler_enabled=True, sessions_enabled=True,
    )  # fmt: skip
    worker = TraceWorker(settings, SimpleNamespace(registry=None), None)
    assert worker.assembler is not None and worker.sessions is not None
    assembler = worker.assembler.table.changelog_topic.get_topic_name()
    changelogs = faust_compat.changelog_topics(worker.app)
    assert assembler in changelogs and len(changelogs) == 2  # the sessions table's too
    for changelog in changelogs:
        assert recovery_highwaters(changelog, 12) == 11, changelog
    # the assembler asks the worker's checkpoint whether a record is faust's second copy
    tp = TopicPartition(spans, 1)
    assert worker.assembler.first_delivery(tp, 5, 1)
    assert not worker.assembler.first_delivery(tp, 5, 1)  # handed out again, same generation
    assert worker.assembler.first_delivery(tp, 5, 2)  # a new generation reads it again
