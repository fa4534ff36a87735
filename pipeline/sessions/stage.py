"""The session stage inside the worker's faust app: session-turns topic -> sessions table ->
scored-sessions topic, session aggregates on the metrics topic, and the ``sessions`` dataset.

Exactly-once like scoring: every effect of a batch of the session-turns topic (the table's
changelog writes, the scored sessions, the session aggregates and the dead letters) is sent in
the Kafka transaction of the batch's source partition and commits with its offsets (the
worker's checkpoint). Closing a session is driven by messages, never by a timer writing on its
own: when a partition has been idle for ``session_idle_seconds`` the timer only sends a *tick*
to it, and reading the tick runs the close step, inside that partition's transaction.

The table is partitioned like the session-turns topic (keyed by session id, see
``router.py``), so each worker holds the sessions of the partitions it owns; its changelog
restores them after a restart. The ``sessions`` Parquet dataset is written from the committed
scored-sessions topic by a second loop, files named by its offsets (as for the results).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import faust

from pipeline import prometheus
from pipeline.decode.trace import DecodeError
from pipeline.kafka.batch_channel import BatchChannel, divert
from pipeline.sessions import window
from pipeline.sessions.book import TICK_KEY, Changes, SessionBook, tick_message
from pipeline.sessions.scoring import SessionScorer
from pipeline.settings import Settings
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.kafka import TransactionalSender

log = logging.getLogger(__name__)
TABLE_NAME = "sessions"
BATCH, BATCH_SECONDS, TICK_SECONDS = 500, 0.2, 1.0
GAUGE_SECONDS = 10.0
"""How often the tick counts the sessions held for ``evalstream_sessions_open``: counting
walks every entry (O(sessions)); once a second it was 2 % of the operational set's worker
profile with 5,000 sessions (issue 20). Prometheus scrapes every 15 s or so."""
OnDurable = Callable[[dict[Any, int]], None]


def rules_of(settings: Settings) -> window.Rules:
    return window.Rules(
        gap_seconds=settings.session_gap_seconds,
        max_duration_seconds=settings.session_max_duration_seconds,
        lateness_seconds=settings.session_lateness_seconds,
        grace_seconds=settings.session_grace_seconds,
        idle_seconds=settings.session_idle_seconds,
        max_turns=settings.session_max_turns,
    )


class SessionStage:
    """Table, turns loop and tick timer of the session stage on one faust app."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        partitions: int,
        sender: TransactionalSender,
        scorer: SessionScorer,
        encoder: RecordEncoder,
        lock: Callable[[], asyncio.Lock],
        on_durable: OnDurable,
        on_activity: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.sender = sender
        self.scorer = scorer
        self.encoder = encoder
        self.lock = lock
        self.on_durable = on_durable
        self.on_activity = on_activity  # the worker's idle watch (--stop-when-idle)
        self.generation: Any = None  # a GenerationGuard: turns of an ended generation dropped
        self.turns = BatchChannel(app.conf.stream_buffer_maxsize, live=self._live)
        divert(app, settings.session_turns_topic, self.turns)  # not faust's per-event path
        self.table = app.Table(
            TABLE_NAME,
            partitions=partitions,
            key_type=str,
            help="Open and recently closed sessions (evalstream session stage).",
        )
        self.book = SessionBook(
            self.table.data,
            rules_of(settings),
            max_open=settings.session_max_open,
            text_bytes=settings.session_turn_text_bytes,
            on_limit=lambda limit: prometheus.SESSION_LIMIT_HITS.labels(limit).inc(),
            owned=self.owned_partitions,
        )
        self._sent_steps: list[dict[str, Any]] = []  # journals of steps sent, not committed
        self.scored = self.dead_lettered = 0
        self.busy = False  # a batch is being processed (the worker must not stop meanwhile)
        self._ticked: dict[int, float] = {}
        self._gauge_at = -GAUGE_SECONDS
        app.task(self._agent)  # an error stops the worker: nothing after it is committed
        app.timer(interval=TICK_SECONDS)(self._tick)

    def _live(self, message: Any) -> bool:
        return self.generation is None or self.generation.live_message(message)

    async def _agent(self) -> None:
        stream = self.turns
        async for events in stream.noack_take(BATCH, within=BATCH_SECONDS):
            self.busy = True
            try:
                await self._step(stream, events)
            finally:
                self.busy = False

    async def _step(self, stream: Any, events: list[Any]) -> None:
        """One batch: absorb, close what is due, score, then send it all and ack (locked)."""
        if self.generation is not None:
            events = await self.generation.keep_live(stream, events, "session turn")
            if not events:
                return
        self.on_activity()
        self.book.journal = journal = {}
        by_partition: dict[int, Changes] = {}
        dead = []
        wall = time.time()
        for event in events:
            message = event.message
            changes = by_partition.setdefault(message.partition, Changes())
            try:
                self.book.absorb(message.partition, message.value, wall, changes)
            except Exception as exc:  # internal topic, but never let one message stop us
                error = DecodeError(f"not a session turn: {exc!r}", "invalid_session_turn")
                dead.append((message, self.encoder.dead_letter_of(error, message)))
        for partition, changes in by_partition.items():
            self.book.close_due(partition, wall, changes)
        self.book.journal = None
        loop = asyncio.get_running_loop()
        scored = {
            p: await loop.run_in_executor(None, self.scorer.score, c.closings)
            for p, c in by_partition.items()
            if c.closings
        }
        async with self.lock():
            if self.generation is not None and await self.generation.batch_ended(
                stream, events, "session turn"
            ):
                # a rebalance began while it was scored: the revocation committed without
                # it; undo what it changed and let the next owner read it again
                self.book.undo([journal])
                return
            self._send(by_partition, scored, dead)
            self._sent_steps.append(journal)
            for event in events:
                await stream.ack(event)
            self.on_durable({e.message.tp: e.message.offset + 1 for e in events})
            self.on_activity()

    def _send(self, by_partition: dict[int, Changes], scored: dict[int, list], dead: list) -> None:
        s, source = self.settings, self.settings.session_turns_topic
        for message, body in dead:
            self.sender.send(s.dlq_topic, message.key, body, source, message.partition)
            self.dead_lettered += 1
        changelog = self.table.changelog_topic.get_topic_name()
        serializers = self.app.serializers
        for partition, changes in by_partition.items():
            for key, (entry, p) in changes.writes.items():
                key_bytes = serializers.dumps_key(str, key, serializer=self.table.key_serializer)
                value = (
                    None
                    if entry is None
                    else serializers.dumps_value(
                        None, entry, serializer=self.table.value_serializer
                    )
                )
                self.sender.send(changelog, key_bytes, value, source, partition, partition=p)
            sessions = scored.get(partition) or []
            for session in sessions:
                body = self.scorer.message(session)
                self.sender.send(s.scored_sessions_topic, session.session_id.encode(), body,
                                 source, partition)  # fmt: skip
                prometheus.SESSIONS_CLOSED.labels(session.closed_by.value).inc()
            self.scored += len(sessions)
            for record in self.scorer.aggregates(changes.closings, sessions) if sessions else []:
                key, value = self.scorer.window_message(record)
                self.sender.send(s.metrics_topic, key, value, source, partition)

    def committed(self) -> None:
        """The worker committed (with the transactions): the steps sent so far are final."""
        self._sent_steps.clear()

    def rollback(self) -> None:
        """The worker aborted the open transactions: undo those steps in memory too, so the
        events read again are absorbed (and their sessions closed and scored) again."""
        self.book.undo(self._sent_steps)
        self._sent_steps.clear()

    def owned_partitions(self) -> set[int] | None:
        if self.app.rebalancing:
            return None
        name = self.settings.session_turns_topic
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == name}

    async def _tick(self) -> None:
        """Wake idle partitions holding open sessions: a tick message runs their close step."""
        owned = self.owned_partitions()
        if not owned:
            return
        now = time.time()
        # not per batch, nor per tick: counting scans every entry (O(sessions), docs/sessions.md)
        if time.monotonic() - self._gauge_at >= GAUGE_SECONDS:
            self._gauge_at = time.monotonic()
            prometheus.SESSIONS_OPEN.set(len(self.book.sessions(owned)))
        idle = self.settings.session_idle_seconds
        for partition in owned:
            state = self.table.data.get(window.partition_key(partition))
            if not state or now - state["arrival"] < idle:
                continue
            if now - self._ticked.get(partition, 0.0) < max(1.0, idle / 4):
                continue
            if not self.book.open_count([partition]):
                continue
            self._ticked[partition] = now
            try:
                await self.app.producer.send(
                    self.settings.session_turns_topic, TICK_KEY, tick_message(now),
                    partition, None, None,
                )  # fmt: skip
            except Exception as exc:  # the next tick tries again
                log.warning("session tick to partition %d failed: %r", partition, exc)

    def close(self) -> None:
        self.scorer.close()
