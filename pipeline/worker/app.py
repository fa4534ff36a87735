"""The stream worker: a faust-streaming app that scores every trace of the input topic.

Two loops share one lock and one commit:
- ``score-traces`` (input topic): decode, score, send scored traces / dead letters (the
  sends join the Kafka transaction of their source partition), mark the batch durable;
- ``parquet-sink`` (scored-traces topic, read_committed): buffer rows, write files, mark
  them durable only after the rename; with ``EVALSTREAM_PARQUET_FROM=memory`` the rows come
  from the batches the commit just committed and the topic is read only to recover
  (``worker/parquet_memory.py``: the protocol).
Both take their records in batches from a ``BatchChannel`` that faust's fetch loop fills
(``pipeline/kafka/batch_channel.py``: faust's per-event path is skipped), as do the session
stage's and the sessions Parquet loops; they run as app tasks, so an error in one stops the
worker (nothing after it is committed) instead of restarting a loop that lost its batch.
A timer commits every ``commit_interval_seconds``: it sends the window aggregates collected
since the last commit, waits for every send, and commits offsets (with the transactions
under exactly-once). faust's own commit timer is switched off, so a commit never lands in
the middle of a batch. See docs/guarantees.md. ``run.py`` runs it as a process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from functools import partial
from typing import Any

import faust
from faust.types import TP

from pipeline.evaluate.scorer import Scorer
from pipeline.ingest.assembler import SpanAssembler, install_assembler
from pipeline.kafka.batch_channel import BatchChannel, divert
from pipeline.kafka.generation import GenerationGuard
from pipeline.kafka.redelivery import first_deliveries
from pipeline.settings import Settings
from pipeline.sinks.kafka import TransactionalSender
from pipeline.worker import faust_compat, faust_delivery
from pipeline.worker.checkpoint import Checkpoint, ConsumerCommitter, TransactionCommitter
from pipeline.worker.faust_app import faust_app
from pipeline.worker.idle import IdleWatch, busy_reason
from pipeline.worker.lag_report import LagReport
from pipeline.worker.observers import PrometheusObserver
from pipeline.worker.parquet_memory import MemoryFeed
from pipeline.worker.stages import ParquetStage, ScoreStage

log = logging.getLogger(__name__)
COMMIT_TIMER = "evalstream-commit-tick"  # the 0.25 s timer that flushes Parquet and commits


class TraceWorker:
    """State shared by the agents and the timer of one worker process."""

    def __init__(self, settings: Settings, scorer: Scorer, stop_when_idle: float | None) -> None:
        self.settings = settings
        self.idle = IdleWatch(stop_when_idle)
        self.exactly_once = settings.processing_guarantee == "exactly_once"
        faust_delivery.install_eager_delivery()
        self.channels: list[BatchChannel] = []  # cleared when a rebalance begins
        faust_compat.install_full_seek_to_committed()  # re-read what a rebalance dropped
        self.assembler: SpanAssembler | None = None
        self.generation: GenerationGuard  # batches of an ended generation: dropped
        self.app = self._create_app()
        self.sender = TransactionalSender(self.app, self.exactly_once)
        self.observer = PrometheusObserver()
        self.score = ScoreStage.create(settings, scorer, self.sender, self.observer)
        self.parquet = ParquetStage.create(settings, self.observer)
        # Parquet rows from the committed batches, the scored topic read only to recover
        # (parquet_memory.py); needs the transactions' fencing, so exactly-once only
        self.feed: MemoryFeed | None = None
        if settings.parquet_from == "memory":
            if self.exactly_once:
                self.feed = self.score.feed = MemoryFeed()
            else:
                log.warning("EVALSTREAM_PARQUET_FROM=memory needs exactly_once: reading the"
                            " scored topic back instead")  # fmt: skip
        self.sessions: Any = None
        self.session_parquet: Any = None
        if settings.sessions_enabled:
            from pipeline.sessions import install_sessions
            from pipeline.sessions.parquet import SessionParquetStage

            self.sessions = install_sessions(
                self.app, settings, self.sender, lambda: self._lock, self.checkpoint_durable,
                scorer.registry, on_activity=self.idle.touch, generation=self.generation,
            )  # fmt: skip
            self.session_parquet = SessionParquetStage.create(settings, self.observer)
            self.channels.append(self.sessions.turns)
            self.scored_sessions = BatchChannel(
                self.app.conf.stream_buffer_maxsize, live=self.generation.live_message
            )
            divert(self.app, settings.scored_sessions_topic, self.scored_sessions)
            self.channels.append(self.scored_sessions)
            self.app.task(self._session_parquet_agent)
        self._session_parquet_stream: Any = None
        # every table (span assembler, sessions): a partition taken over in a rebalance must
        # come back whole from its changelog, not start empty (faust's ends under exactly-once)
        faust_compat.install_fresh_recovery_highwaters(faust_compat.changelog_topics(self.app))
        committer = (
            TransactionCommitter(self.app, self.sender)
            if self.exactly_once
            else ConsumerCommitter(lambda: self.app.consumer)
        )
        self.checkpoint = Checkpoint(
            committer,
            flush_sinks=self.score.emit_windows,
            wait_for_sends=self.sender.drain,
            assignment=lambda: self.app.consumer.assignment(),
            after_commit=self._after_commit,
        )
        self.lag = LagReport(
            lambda: self.app.consumer,
            (settings.input_topic, settings.scored_topic),
            self.checkpoint,
            self.observer,
            settings.commit_interval_seconds,
            fresh_topics=(settings.session_turns_topic, settings.scored_sessions_topic)
            if settings.sessions_enabled
            else (),
        )
        self._parquet_stream: Any = None
        self._background_flushes: dict[int, asyncio.Future[Any]] = {}
        self._lock = asyncio.Lock()
        self._last_commit = time.monotonic()
        self._stopping = False
        self._assigned = asyncio.Event()
        self._finishing = False
        self._scoring = False

    def _create_app(self) -> faust.App:
        s = self.settings
        app = faust_app(s)
        self.generation = GenerationGuard(app)
        maxsize = app.conf.stream_buffer_maxsize
        self.input_batches = BatchChannel(maxsize, live=self.generation.live_message)
        self.scored_batches = BatchChannel(maxsize, live=self.generation.live_message)
        divert(app, s.input_topic, self.input_batches)
        divert(app, s.scored_topic, self.scored_batches)
        self.channels += [self.input_batches, self.scored_batches]
        app.task(self._score_agent)
        app.task(self._parquet_agent)
        if s.assembler_enabled:
            self.assembler = install_assembler(
                app, s, self.checkpoint_durable, self.checkpoint_first_delivery, self.generation
            )
        app.timer(interval=0.25, name=COMMIT_TIMER)(self._tick)
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_rebalance_complete.connect(self._on_rebalanced)
        return app

    def checkpoint_durable(self, offsets: dict[Any, int]) -> None:
        """Called by the assembler (installed before the checkpoint exists)."""
        self.checkpoint.mark_durable(offsets)

    def checkpoint_first_delivery(self, tp: Any, offset: int, generation: Any) -> bool:
        """Called by the assembler: ``Checkpoint.first_delivery``."""
        return self.checkpoint.first_delivery(tp, offset, generation)

    def _after_commit(self, offsets: dict[Any, int]) -> None:
        faust_compat.forget_acked_below(self.app.consumer, offsets)
        if self.feed is not None:  # these transactions committed: their rows are final
            topic = self.settings.input_topic
            self.feed.committed({tp.partition for tp in offsets if tp.topic == topic})

    async def _lag(self) -> dict[Any, int]:
        """The idle check's lag; with rows from memory, a caught-up scored partition is left
        out (its fetching is paused: what it holds past the pause is this worker's own)."""
        lag = await self.lag.lag()
        if self.feed is None:
            return lag
        scored, caught_up = self.settings.scored_topic, self.feed.caught_up
        return {
            tp: n for tp, n in lag.items() if tp.topic != scored or tp.partition not in caught_up
        }

    async def _start_memory_generation(self, committed: dict[Any, int | None]) -> None:
        """Rows from memory: the scored partitions' end offsets now (faust has started, so
        fenced, their transactions), where the topic read hands over to memory
        (parquet_memory.py); their fetching resumes for that read."""
        assert self.feed is not None
        s = self.settings
        counts = {
            t: faust_compat.partition_count(self.app, t) for t in (s.input_topic, s.scored_topic)
        }
        if counts[s.input_topic] != counts[s.scored_topic]:
            raise RuntimeError(
                f"EVALSTREAM_PARQUET_FROM=memory needs as many partitions in {s.scored_topic}"
                f" as in {s.input_topic}: {counts}"
            )
        scored = {tp: o or 0 for tp, o in committed.items() if tp.topic == s.scored_topic}
        ends = await faust_compat.fresh_end_offsets(self.app.consumer, list(scored))
        self.feed.start_generation(
            {tp.partition: end for tp, end in ends.items() if end is not None},
            {tp.partition: o for tp, o in scored.items()},
        )
        self.app.consumer.resume_partitions(list(scored))

    async def _on_rebalanced(self, *args: Any, **kwargs: Any) -> None:
        self.idle.touch()

    async def _on_revoked(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """Commit what is durable before partitions move; roll back what cannot be.

        If the commit fails, the open transactions are aborted and the window aggregates
        dropped: the events since the last commit are then read again (by us or the new
        owner) and counted once. Their Parquet files lie past the committed offset and are
        removed when the partition is assigned.
        """
        self._assigned.clear()
        for channel in self.channels:
            channel.clear()  # all of the generation that ends: read again from the commit
        if self._stopping:
            return
        async with self._lock:
            await self._flush_parquet(force=True)
            try:
                await self._commit()
            except Exception as exc:  # the group may already be rebalancing without us
                log.warning("commit before rebalance failed (%s): rolling back", exc)
                self.score.windows.drain()
                await self.sender.drain(raise_errors=False)
                if self.exactly_once:
                    await faust_compat.abort_open_transactions(self.app.producer)
                if self.sessions is not None:
                    self.sessions.rollback()
            self.checkpoint.rewind()
            if self.feed is not None:  # what Kafka committed of it is read from the topic
                self.feed.reset()

    async def _on_assigned(self, sender: Any, assigned: Any, **kwargs: Any) -> None:
        """Learn where each assigned partition stands, and drop Parquet files never committed.

        The Parquet agent waits until the clean-up is done.
        """
        s = self.settings
        topics = self._committed_topics()
        tps = [tp for tp in assigned if tp.topic in topics]
        offsets = await asyncio.gather(*(faust_compat.committed_offset(self.app, tp) for tp in tps))
        committed = dict(zip(tps, offsets, strict=True))
        fresh = [tp for tp, offset in committed.items() if offset is None]
        starts = await self.app.consumer.earliest_offsets(*fresh) if fresh else {}
        for tp, offset in committed.items():
            self.checkpoint.start(tp, offset, starts.get(tp, 0))
        loop = asyncio.get_running_loop()
        for topic in (s.scored_topic, s.scored_sessions_topic):
            scored = {tp.partition: o or 0 for tp, o in committed.items() if tp.topic == topic}
            if scored:
                removed = await loop.run_in_executor(
                    None, ParquetStage.remove_uncommitted, self.parquet.sink.root, topic, scored
                )
                if removed:
                    log.warning("removed %d uncommitted Parquet file(s) of %s", removed, topic)
        if self.feed is not None:
            await self._start_memory_generation(committed)
        self._assigned.set()

    async def _score_agent(self) -> None:
        faust_compat.route_faust_commits(self.app.consumer, self._faust_commit)
        stream = self.input_batches
        s = self.settings
        async for batch in stream.noack_take(s.batch_size, within=s.batch_timeout_seconds):
            events = await self._first_deliveries(stream, batch)
            if not events:
                continue
            self.idle.touch()
            # busy until the batch is sent: a batch that took longer than --stop-when-idle to
            # score, waiting for the lock of a commit that just emptied everything, looked
            # idle (all read, all committed) and the worker stopped with it unsent
            self._scoring = True
            try:
                prepared = await self.score.prepare(events)  # outside the lock: commits go on
                async with self._lock:
                    # a rebalance began while it was scored: the revocation committed without
                    # it, and the next owner reads it again (pipeline/kafka/generation.py)
                    if await self.generation.batch_ended(stream, events, "scored trace"):
                        continue
                    await self.score.send(events, prepared)
                    for event in events:
                        await stream.ack(event)
                    self.checkpoint.mark_durable(
                        {event.message.tp: event.message.offset + 1 for event in events}
                    )
                    self.idle.touch()
            finally:
                self._scoring = False

    async def _parquet_agent(self) -> None:
        self._parquet_stream = self.scored_batches
        if self.feed is not None:
            self.app.add_future(self._memory_parquet_agent())
        await self._write_parquet(self.scored_batches, self.parquet, "scored record")

    async def _memory_parquet_agent(self) -> None:
        """Rows from memory: the committed batches' rows into the stage, flushed when due
        (the topic loop beside it adds what recovery reads)."""
        assert self.feed is not None
        stage, stream = self.parquet, self.scored_batches
        while True:
            await self.feed.wait(self.settings.batch_timeout_seconds)
            if not self.feed.ready:
                self.feed.wakeup.clear()  # never a busy loop on a stale wake-up
                continue
            await self._assigned.wait()
            async with stage.busy:
                self._take_memory_rows()
                if stage.should_flush():
                    self.checkpoint.mark_durable(await stage.flush(stream))

    def _take_memory_rows(self) -> None:
        """Move the feed's ready rows into the Parquet stage (``busy`` held by the caller)."""
        if self.feed is not None and self.feed.ready:
            self.idle.touch()
            topic = self.settings.scored_topic
            self.parquet.add_rows(topic, partial(TP, topic), self.feed.take_ready())

    def _recovered(self, events: list[Any]) -> list[Any]:
        """Rows from memory: of the scored records read back, those to add (below the
        hand-over offset); a partition past it is caught up, and its fetching paused."""
        assert self.feed is not None
        keep, caught_up = [], set()
        for event in events:
            m = event.message
            if self.feed.from_topic(m.partition, m.offset):
                keep.append(event)
            else:
                caught_up.add(m.tp)
        if caught_up:
            self.app.consumer.pause_partitions(caught_up)
        return keep

    async def _session_parquet_agent(self) -> None:
        self._session_parquet_stream = self.scored_sessions
        await self._write_parquet(self.scored_sessions, self.session_parquet, "scored session")

    async def _write_parquet(self, stream: Any, stage: Any, what: str) -> None:
        """A Parquet loop: batches into the stage, flushed when due.

        Under the stage's ``busy`` lock, not the worker's: the files are written while
        commits go on (they commit what was durable before), and the durable points move
        once the files are in place. A revocation or the final flush takes the worker's lock
        and then ``busy``, so it waits for a write in progress, which never needs the worker's
        lock (no lock-order inversion).
        """
        faust_compat.route_faust_commits(self.app.consumer, self._faust_commit)
        s = self.settings
        async for batch in stream.noack_take(s.batch_size, within=s.batch_timeout_seconds):
            events = await self._first_deliveries(stream, batch)
            if not events:
                continue
            await self._assigned.wait()  # uncommitted files of these partitions are gone
            async with stage.busy:
                # checked after the last wait, and the rows added with no wait in between: a
                # rebalance that began meanwhile ended their generation (they are read again)
                events, _ = self.generation.split(events, what)  # the channels need no acks
                if not events:
                    continue
                self.idle.touch()
                if stage is self.parquet and self.feed is not None:
                    stage.add(self._recovered(events))  # what memory does not hold
                    self._take_memory_rows()  # after them: a caught-up partition's own
                else:
                    stage.add(events)
                if stage.should_flush():
                    self.checkpoint.mark_durable(await stage.flush(stream))

    async def _first_deliveries(self, stream: Any, events: list[Any]) -> list[Any]:
        """The events handed out for the first time in the live generation; faust's second
        copies (``Checkpoint.first_delivery``) and events of an ended generation are acked and
        dropped."""
        return await first_deliveries(
            stream, events, self.checkpoint.first_delivery, generation=self.generation
        )

    def _parquet_stages(self) -> list[tuple[Any, Any]]:
        """(stage, its channel) of each Parquet loop that has started."""
        stages = [(self.parquet, self._parquet_stream)]
        if self.session_parquet is not None:
            stages.append((self.session_parquet, self._session_parquet_stream))
        return [(stage, stream) for stage, stream in stages if stream is not None]

    async def _flush_parquet(self, force: bool) -> None:
        """Flush the Parquet stages that are due (all with rows, when ``force``), each under
        its ``busy`` lock, so a write in progress is waited for."""
        for stage, stream in self._parquet_stages():
            await self._flush_stage(stage, stream, force)

    def _flush_due(self, stage: Any, force: bool) -> bool:
        """Whether ``stage`` is to be flushed now (every stage with rows, when ``force``)."""
        return stage.should_flush() or (bool(stage.pending) and (force or self.app.rebalancing))

    async def _flush_stage(self, stage: Any, stream: Any, force: bool) -> None:
        async with stage.busy:
            if stage is self.parquet:
                self._take_memory_rows()
            if self._flush_due(stage, force):
                self.checkpoint.mark_durable(await stage.flush(stream))

    def _flush_due_parquet_in_background(self) -> None:
        """The timer's flush of a stage due by time whose loop is idle: a task of its own,
        so the commit does not wait for the files (an error in it stops the worker)."""
        for stage, stream in self._parquet_stages():
            running = self._background_flushes.get(id(stage))
            idle = (running is None or running.done()) and not stage.busy.locked()
            if idle and self._flush_due(stage, force=False):
                flush = self.app.add_future(self._flush_stage(stage, stream, force=False))
                self._background_flushes[id(stage)] = flush

    async def _tick(self) -> None:
        if self._stopping or self._lock.locked():
            return
        if not self._finishing:
            self._flush_due_parquet_in_background()
        async with self._lock:
            due = time.monotonic() - self._last_commit >= self.settings.commit_interval_seconds
            if due and self.checkpoint.uncommitted() and not self.app.rebalancing:
                await self._commit()
        await self.lag.report_if_due()
        sessions_busy = self.sessions is not None and self.sessions.busy
        if not self.idle.waited_enough() or self._lock.locked() or self._scoring or sessions_busy:
            return
        busy = await busy_reason(
            # until the clean-up of an assignment is done, the Parquet agents hold what
            # they were handed without counting it as pending (seen: a worker under load
            # stopped idle with 10 scored traces never written, on Azurite)
            rebalancing=self.app.rebalancing or not self._assigned.is_set(),
            measure_lag=self._lag,
            rows_pending=len(self.parquet.pending)
            + (self.feed.pending if self.feed is not None else 0)
            + (len(self.session_parquet.pending) if self.session_parquet is not None else 0),
            uncommitted=self.checkpoint.uncommitted(),
            assembler_idle=self.assembler.idle if self.assembler is not None else None,
        )
        if busy is None:
            if self._scoring or not self.idle.waited_enough():  # a batch came meanwhile
                return
            await self.finish()
        elif self.idle.report_due():
            idle = self.idle.idle_seconds()
            log.warning("no new input for %.0f s, but not stopping yet: %s", idle, busy)

    def _committed_topics(self) -> set[str]:
        """Topics whose offsets this worker commits: what its agents read, not table changelogs.

        faust also assigns changelog partitions (a table's active and standby copies); their
        offsets are never committed, so tracking them would keep the worker from ever idling.
        """
        s = self.settings
        topics = {s.input_topic, s.scored_topic}
        if s.sessions_enabled:
            topics |= {s.session_turns_topic, s.scored_sessions_topic}
        return topics | ({s.spans_topic} if s.assembler_enabled else set())

    async def _commit(self) -> None:
        """The checkpoint's commit, timed (lock held by the caller)."""
        started = time.monotonic()
        try:
            await self.checkpoint.commit()
        except BaseException:
            if self.feed is not None:  # outcome unknown: the next generation reads them
                self.feed.reset()
            raise
        if self.sessions is not None:
            self.sessions.committed()
        self._last_commit = time.monotonic()
        self.observer.on_commit(self._last_commit - started)

    async def _faust_commit(self, *args: Any, **kwargs: Any) -> bool:
        """faust's own commits (while it waits for streams, at shutdown) commit our offsets.

        Unguarded, faust would commit its contiguous-ack offsets, possibly behind ours, and
        could close a transaction holding half a batch's sends. After ``finish`` nothing is
        committed any more.
        """
        if self._stopping:
            return False
        async with self._lock:
            await self._commit()
        return True

    async def finish(self) -> None:
        """Flush Parquet, commit, and stop the process; the lock is kept so nothing new starts."""
        if self._finishing:
            return
        self._finishing = True
        await self._lock.acquire()
        await self._flush_parquet(force=True)
        await self._commit()
        self._stopping = True
        # Events the agents received after this point are neither processed nor committed;
        # faust must not wait for their acks while it shuts down (a later worker reads them).
        faust_compat.stop_waiting_for_streams(self.app)
        log.info("stopping after a final commit")
        os.kill(os.getpid(), signal.SIGTERM)
