"""The stream worker: a faust-streaming app that scores every trace of the input topic.

Two agents share one lock and one commit:
- ``score-traces`` (input topic): decode, score, send scored traces / dead letters (the
  sends join the Kafka transaction of their source partition) and ack;
- ``parquet-sink`` (scored-traces topic, read_committed): buffer rows, write files, ack only
  after the rename.
A timer commits every ``commit_interval_seconds``: it sends the window aggregates collected
since the last commit, waits for every send, and commits offsets (with the transactions
under exactly-once). faust's own commit timer is switched off, so a commit never lands in
the middle of a batch. See docs/guarantees.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import warnings
from typing import Any

import faust
from aiokafka.structs import TopicPartition

from pipeline import prometheus
from pipeline.evaluate.scorer import Scorer
from pipeline.ingest.assembler.stage import assembler_idle, install_assembler
from pipeline.kafka.security import faust_credentials
from pipeline.settings import Settings
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.kafka import TransactionalSender
from pipeline.worker.stages import ParquetStage, ScoreStage

log = logging.getLogger(__name__)
NEVER = 10**9  # seconds / acks: faust's own commit triggers are disabled
COMMIT_TIMER = "evalstream-commit-tick"  # the 0.25 s timer that flushes Parquet and commits
BUSY_REPORT_SECONDS = 60.0  # with --stop-when-idle: how often to say why the worker keeps running


class TraceWorker:
    """State shared by the agents and the timer of one worker process."""

    def __init__(self, settings: Settings, scorer: Scorer, stop_when_idle: float | None) -> None:
        self.settings = settings
        self.stop_when_idle = stop_when_idle
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        self.app = self._create_app()
        self.sender = TransactionalSender(self.app, self.exactly_once)
        self.score = ScoreStage(settings, scorer, self.sender, RecordEncoder.create(settings))
        self.parquet = ParquetStage(settings)
        self._parquet_stream: Any = None
        self._lock = asyncio.Lock()
        self._last_activity = time.monotonic()
        self._last_commit = time.monotonic()
        self._durable: dict[Any, int] = {}  # per partition: processed up to here (exclusive)
        self._committed: dict[Any, int] = {}
        self._stopping = False
        self._assigned = asyncio.Event()
        self._finishing = False
        self._scoring = False
        self._last_lag_report = 0.0
        self._last_busy_report = time.monotonic()

    def _create_app(self) -> faust.App:
        s = self.settings
        app = faust.App(
            s.consumer_group,
            broker=[f"kafka://{server}" for server in s.bootstrap_list],
            broker_credentials=faust_credentials(s),
            value_serializer="raw",
            key_serializer="raw",
            web_enabled=False,
            autodiscover=False,
            store="memory://",
            topic_partitions=s.topic_partitions,
            processing_guarantee=s.processing_guarantee,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger_ms=5,
            producer_max_request_size=s.max_message_bytes,
            stream_buffer_maxsize=max(4096, 2 * s.batch_size),
            broker_commit_interval=NEVER,
            broker_session_timeout=s.session_timeout_seconds,
            broker_heartbeat_interval=min(3.0, s.session_timeout_seconds / 3),
            broker_commit_every=NEVER,
            loghandlers=[],
        )
        input_topic = app.topic(s.input_topic, value_type=bytes, key_type=bytes)
        scored_topic = app.topic(
            s.scored_topic, value_type=bytes, key_type=bytes, partitions=s.topic_partitions
        )
        app.agent(input_topic, name="score-traces")(self._score_agent)
        app.agent(scored_topic, name="parquet-sink")(self._parquet_agent)
        if s.assembler_enabled:
            install_assembler(app, s, on_durable=self._mark_durable)
        app.timer(interval=0.25, name=COMMIT_TIMER)(self._tick)
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_rebalance_complete.connect(self._on_rebalanced)
        return app

    async def _on_rebalanced(self, *args: Any, **kwargs: Any) -> None:
        self._last_activity = time.monotonic()

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """Commit what is durable before partitions move; roll back what cannot be.

        If the commit fails, the open transactions are aborted and the window aggregates
        dropped: the events since the last commit are then read again (by us or the new
        owner) and counted once. Their Parquet files lie past the committed offset and are
        removed when the partition is assigned.
        """
        self._assigned.clear()
        if self._stopping:
            return
        async with self._lock:
            if self._parquet_stream is not None:
                self._mark_durable(await self.parquet.flush(self._parquet_stream))
            try:
                await self._commit()
            except Exception as exc:  # the group may already be rebalancing without us
                log.warning("commit before rebalance failed (%s): rolling back", exc)
                self.score.windows.drain()
                await self.sender.drain(raise_errors=False)
                if self.exactly_once:
                    producer = self.app.producer
                    for transactional_id in list(producer._transaction_producers):
                        await producer.abort_transaction(transactional_id)
            self._durable = dict(self._committed)

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        """Learn where each assigned partition stands, and drop Parquet files never committed.

        A partition with no committed offset gets its first offset as the durable point, so
        the next commit pins it: faust drops events it fetched but had not handed out when a
        rebalance starts, and re-reads only partitions that have a committed offset.
        The Parquet agent waits until the clean-up is done.
        """
        s = self.settings
        topics = self._committed_topics()
        tps = [tp for tp in assigned if tp.topic in topics]
        offsets = await asyncio.gather(*(_committed_offset(self.app, tp) for tp in tps))
        committed = dict(zip(tps, offsets, strict=True))
        fresh = [tp for tp, offset in committed.items() if offset is None]
        starts = await self.app.consumer.earliest_offsets(*fresh) if fresh else {}
        for tp, offset in committed.items():
            start = offset if offset is not None else starts.get(tp, 0)
            self._committed[tp] = offset if offset is not None else -1
            self._durable[tp] = max(self._durable.get(tp, start), start)
        scored = {tp.partition: o or 0 for tp, o in committed.items() if tp.topic == s.scored_topic}
        if scored:
            loop = asyncio.get_running_loop()
            removed = await loop.run_in_executor(
                None, ParquetStage.remove_uncommitted, s.parquet_dir, s.scored_topic, scored
            )
            if removed:
                log.warning("removed %d uncommitted Parquet file(s) of %s", removed, s.scored_topic)
        self._assigned.set()

    async def _score_agent(self, stream: Any) -> None:
        self._guard_faust_commits()
        s = self.settings
        async for events in stream.noack_take(s.batch_size, within=s.batch_timeout_seconds):
            self._last_activity = time.monotonic()
            self._scoring = True
            try:
                prepared = await self.score.prepare(events)  # outside the lock: commits go on
            finally:
                self._scoring = False
            async with self._lock:
                await self.score.send(events, prepared)
                for event in events:
                    await stream.ack(event)
                self._mark_durable({event.message.tp: event.message.offset + 1 for event in events})
                self._last_activity = time.monotonic()

    async def _parquet_agent(self, stream: Any) -> None:
        self._guard_faust_commits()
        self._parquet_stream = stream
        s = self.settings
        async for events in stream.noack_take(s.batch_size, within=s.batch_timeout_seconds):
            await self._assigned.wait()  # uncommitted files of these partitions are gone
            async with self._lock:
                self._last_activity = time.monotonic()
                self.parquet.add(events)
                if self.parquet.should_flush():
                    self._mark_durable(await self.parquet.flush(stream))

    async def _tick(self) -> None:
        if self._stopping or self._lock.locked():
            return
        async with self._lock:
            flush_now = self.parquet.should_flush() or (
                self.app.rebalancing and self.parquet.pending
            )
            if self._parquet_stream is not None and flush_now:
                self._mark_durable(await self.parquet.flush(self._parquet_stream))
            due = time.monotonic() - self._last_commit >= self.settings.commit_interval_seconds
            if due and self._uncommitted() and not self.app.rebalancing:
                await self._commit()
        if time.monotonic() - self._last_lag_report >= 5.0:
            self._last_lag_report = time.monotonic()
            try:
                await self._lag()
            except Exception as exc:  # a metric must never stop the worker
                log.warning("consumer lag not measured: %r", exc)
        idle = time.monotonic() - self._last_activity
        waited = self.stop_when_idle is not None and idle >= self.stop_when_idle
        if not waited or self._lock.locked() or self._scoring:
            return
        busy = await self._still_busy()
        if busy is None and not await assembler_idle(self.app):
            busy = "the span assembler holds traces not emitted yet or spans not read"
        if busy is None:
            await self.finish()
        elif time.monotonic() - self._last_busy_report >= BUSY_REPORT_SECONDS:
            self._last_busy_report = time.monotonic()
            log.warning("no new input for %.0f s, but not stopping yet: %s", idle, busy)

    def _committed_topics(self) -> set[str]:
        """Topics whose offsets this worker commits: what its agents read, not table changelogs.

        faust also assigns changelog partitions (a table's active and standby copies); their
        offsets are never committed, so tracking them would keep the worker from ever idling.
        """
        s = self.settings
        return {s.input_topic, s.scored_topic} | ({s.spans_topic} if s.assembler_enabled else set())

    def _mark_durable(self, offsets: dict[Any, int]) -> None:
        for tp, offset in offsets.items():
            if offset > self._durable.get(tp, -1):
                self._durable[tp] = offset

    def _uncommitted(self) -> dict[Any, int]:
        assignment = self.app.consumer.assignment()
        return {
            tp: offset
            for tp, offset in self._durable.items()
            if tp in assignment and offset > self._committed.get(tp, -1)
        }

    async def _commit(self) -> None:
        """Windows out, every send acknowledged, then offsets (and transactions) committed.

        The offsets are ours, not faust's: faust commits the highest *contiguous* acked
        offset, and a transactional topic has gaps (commit markers), so faust would commit
        short of a Parquet file's end and a replay would write part of the file again.
        Called with the lock held, so no batch is half-sent while the transaction commits.
        """
        started = time.monotonic()
        self.score.emit_windows()
        await self.sender.drain()
        offsets = self._uncommitted()
        if offsets:
            consumer = self.app.consumer
            if self.exactly_once:
                offsets = await self._commit_transactions(offsets)
            else:
                await consumer._commit(offsets)
            self._committed.update(offsets)
            forget_acked_below(consumer, offsets)
        self._last_commit = time.monotonic()
        prometheus.SINK_FLUSH.labels("kafka").observe(self._last_commit - started)

    async def _commit_transactions(self, offsets: dict[Any, int]) -> dict[Any, int]:
        """Commit each source partition's transaction with its offsets, all at once.

        Right after a rebalance faust may not have started the producer of a newly assigned
        partition yet; its offsets wait for the next commit (nothing was sent for it either).
        Returns the offsets that were committed.
        """
        producer = self.app.producer
        group_id = self.app.conf.id
        by_id: dict[str, dict[Any, int]] = {}
        for tp, offset in offsets.items():
            transactional_id = self.sender.transactional_id(tp.topic, tp.partition)
            if transactional_id in producer._transaction_producers:
                native = TopicPartition(tp.topic, tp.partition)  # aiokafka's own type
                by_id.setdefault(transactional_id, {})[native] = offset
        await asyncio.gather(
            *(producer.commit_transactions({tid: tps}, group_id) for tid, tps in by_id.items())
        )
        done = {(tp.topic, tp.partition) for tps in by_id.values() for tp in tps}
        return {tp: o for tp, o in offsets.items() if (tp.topic, tp.partition) in done}

    def _guard_faust_commits(self) -> None:
        """faust's own commits (while it waits for streams, at shutdown) commit our offsets.

        Unguarded, faust would commit its contiguous-ack offsets, possibly behind ours, and
        could close a transaction holding half a batch's sends. After ``finish`` nothing is
        committed any more.
        """
        consumer = self.app.consumer
        if getattr(consumer, "_evalstream_guarded", False):
            return

        async def guarded_commit(*args: Any, **kwargs: Any) -> bool:
            if self._stopping:
                return False
            async with self._lock:
                await self._commit()
            return True

        consumer.commit = guarded_commit
        consumer._evalstream_guarded = True

    async def _lag(self) -> dict[Any, int]:
        """Unread messages per assigned input/scored partition (also exported as a gauge).

        -1 marks a partition whose end or position is not known yet (e.g. just assigned).
        """
        consumer = self.app.consumer
        watched = {self.settings.input_topic, self.settings.scored_topic}
        tps = [tp for tp in consumer.assignment() if tp.topic in watched]
        ends = await consumer.highwaters(*tps) if tps else {}
        lag = {}
        for tp in tps:
            position, end = await consumer.position(tp), ends.get(tp)
            lag[tp] = -1 if position is None or end is None else max(end - position, 0)
            prometheus.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(lag[tp], 0))
        return lag

    async def _still_busy(self) -> str | None:
        """Why the worker cannot stop yet (for ``--stop-when-idle``); None when it can.

        It can when every assigned partition has been read to its end offset, every row is
        in Parquet and every offset is committed.
        """
        if self.app.rebalancing:
            return "the consumer group is rebalancing"
        try:
            lag = await self._lag()
        except Exception as exc:  # e.g. the broker is away: not idle, try again later
            return f"cannot tell whether caught up ({exc!r})"
        behind = {f"{tp.topic}[{tp.partition}]": n for tp, n in lag.items() if n != 0}
        if behind:
            return f"partitions not read to their end (-1: end unknown): {behind}"
        if self.parquet.pending:
            return "rows not written to Parquet yet"
        uncommitted = self._uncommitted()
        if uncommitted:
            names = sorted(f"{tp.topic}[{tp.partition}]" for tp in uncommitted)
            return f"offsets not committed yet: {names}"
        return None

    async def finish(self) -> None:
        """Flush Parquet, commit, and stop the process; the lock is kept so nothing new starts."""
        if self._finishing:
            return
        self._finishing = True
        await self._lock.acquire()
        if self._parquet_stream is not None:
            self._mark_durable(await self.parquet.flush(self._parquet_stream))
        await self._commit()
        self._stopping = True
        # Events the agents received after this point are neither processed nor committed;
        # faust must not wait for their acks while it shuts down (a later worker reads them).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.app.conf.stream_wait_empty = False
        log.info("stopping after a final commit")
        os.kill(os.getpid(), signal.SIGTERM)


async def _committed_offset(app: faust.App, tp: Any) -> int | None:
    """The group's committed offset of ``tp`` (None when none), asked of the Kafka consumer."""
    thread = app.consumer._thread  # faust has no public API for a single committed offset
    return await thread.call_thread(thread._ensure_consumer().committed, tp)


class _Worker(faust.Worker):
    """A faust worker whose SIGTERM / SIGINT first flush and commit what is in flight."""

    trace_worker: TraceWorker

    def _on_sigterm(self) -> None:
        self._drain_then(signal.SIGTERM)

    def _on_sigint(self) -> None:
        self._drain_then(signal.SIGINT)

    def _drain_then(self, sig: signal.Signals) -> None:
        if self.trace_worker._stopping:
            self._schedule_shutdown(sig)
            return
        self.add_future(self.trace_worker.finish())


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


class _ExpectedNoise(logging.Filter):
    """Drop two log lines that describe normal operation, not a problem:

    - aiokafka's 'coordinator not available' error while a new group is being created: the
      broker answers that until the group's coordinator is elected, and the client retries;
    - mode's 'Timer evalstream-commit-tick is overlapping' warning: the worker's 0.25 s tick
      runs the Parquet flush and the transaction commit, which may take longer; ticks never
      run concurrently (a tick that finds the commit lock taken returns at once).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "GroupCoordinatorNotAvailableError" in message:
            return False
        return not ("is overlapping" in message and COMMIT_TIMER in message)


def run_worker(
    settings: Settings, scorer: Scorer, stop_when_idle: float | None = None
) -> ScoreStage:
    """Run until stopped (SIGTERM/SIGINT) or idle; returns the scoring counters."""
    from pipeline.kafka.clients import ensure_topics

    # Before faust subscribes: a topic created after the subscription would not be assigned
    # until the next metadata refresh (minutes).
    topics = [settings.input_topic, settings.scored_topic, settings.metrics_topic]
    topics += [settings.dlq_topic] + ([settings.spans_topic] if settings.assembler_enabled else [])
    ensure_topics(settings, topics, settings.topic_partitions)
    worker = TraceWorker(settings, scorer, stop_when_idle)
    for name in ("aiokafka.consumer.group_coordinator", "mode.timers"):
        logging.getLogger(name).addFilter(_ExpectedNoise())
    prometheus.serve_metrics(settings.metrics_port)
    faust_worker = _Worker(
        worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
    )
    faust_worker.trace_worker = worker
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        scorer.close()
    return worker.score
