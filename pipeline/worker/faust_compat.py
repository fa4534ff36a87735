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
