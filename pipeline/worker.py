"""The stream worker: a faust-streaming app that scores every trace of the input topic.

Flow of one batch (``noack_take``: faust never acks for us):
decode -> dead-letter what is bad -> score in a thread -> send scored/metrics messages ->
buffer Parquet rows. When the Parquet buffer flushes, the sends are awaited, the files are
renamed into place, and only then are the batch's events acked, so a committed offset always
means "durable in every sink" (see docs/guarantees.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Sequence
from typing import Any

import faust
import orjson

from pipeline.dead_letter import dead_letter_for
from pipeline.decode import DecodeError, decode_trace
from pipeline.kafka_security import faust_credentials
from pipeline.metrics import WindowAggregator
from pipeline.scoring import Scorer, SourcedTrace
from pipeline.settings import Settings
from pipeline.sinks.parquet import ParquetSink
from schemas import MetricsRecord

log = logging.getLogger(__name__)


class WorkerStats:
    """Counters printed at the end of a run (and exported as metrics later)."""

    def __init__(self) -> None:
        self.consumed = 0
        self.scored = 0
        self.dead_lettered = 0
        self.metrics_records = 0


class TraceWorker:
    """State shared by the agent and the timers of one worker process."""

    def __init__(self, settings: Settings, scorer: Scorer, stop_when_idle: float | None) -> None:
        self.settings = settings
        self.scorer = scorer
        self.stop_when_idle = stop_when_idle
        self.parquet = ParquetSink(
            settings.parquet_dir, settings.parquet_flush_rows, settings.parquet_flush_seconds
        )
        self.windows = WindowAggregator(
            settings.window_seconds, settings.window_lateness_seconds, settings.worker_id
        )
        self.stats = WorkerStats()
        self.app = self._create_app()
        self._stream: Any = None
        self._pending_events: list[Any] = []
        self._pending_sends: list[Awaitable[Any]] = []
        self._lock = asyncio.Lock()
        self._last_activity = time.monotonic()
        self._stopping = False

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
            processing_guarantee="at_least_once",
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger_ms=5,
            stream_buffer_maxsize=max(4096, 2 * s.batch_size),
            broker_commit_interval=1.0,
            loghandlers=[],
        )
        self.input_topic = app.topic(s.input_topic, value_type=bytes, key_type=bytes)
        self.output_topics = [
            app.topic(name, value_type=bytes, key_type=bytes, partitions=s.topic_partitions)
            for name in (s.scored_topic, s.metrics_topic, s.dlq_topic)
        ]
        app.agent(self.input_topic, name="score-traces")(self._agent)
        app.timer(interval=0.5)(self._tick)
        app.on_rebalance_complete.connect(self._on_rebalanced)
        return app

    async def _on_rebalanced(self, *args: Any, **kwargs: Any) -> None:
        self._last_activity = time.monotonic()

    async def _agent(self, stream: Any) -> None:
        self._stream = stream
        s = self.settings
        for topic in self.output_topics:
            await topic.maybe_declare()
        async for events in stream.noack_take(s.batch_size, within=s.batch_timeout_seconds):
            async with self._lock:
                await self._process(events)
                if self.parquet.should_flush():
                    await self._flush()

    async def _process(self, events: Sequence[Any]) -> None:
        self._last_activity = time.monotonic()
        self.stats.consumed += len(events)
        good: list[SourcedTrace] = []
        for event in events:
            message = event.message
            try:
                trace = decode_trace(message.value, int(message.timestamp * 1000))
            except DecodeError as error:
                record = dead_letter_for(
                    error,
                    message.value,
                    message.key,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                )
                self._send(self.settings.dlq_topic, message.key, record.model_dump_json().encode())
                self.stats.dead_lettered += 1
                continue
            good.append(SourcedTrace(trace, message.topic, message.partition, message.offset))
        if good:
            loop = asyncio.get_running_loop()
            scored = await loop.run_in_executor(None, self.scorer.score, good)
            for record in scored:
                message_bytes = orjson.dumps(record.to_message().model_dump(mode="json"))
                self._send(
                    self.settings.scored_topic, record.trace.trace_id.encode(), message_bytes
                )
            self.parquet.add(scored)
            self.windows.add(scored)
            self.stats.scored += len(scored)
            self._send_metrics(self.windows.closed())
        self._pending_events.extend(events)
        self._last_activity = time.monotonic()

    def _send(self, topic: str, key: bytes | None, value: bytes) -> None:
        producer = self.app.producer
        self._pending_sends.append(
            asyncio.ensure_future(producer.send(topic, key, value, None, None, None))
        )

    def _send_metrics(self, records: list[MetricsRecord]) -> None:
        for record in records:
            self._send(
                self.settings.metrics_topic, record.key.encode(), record.model_dump_json().encode()
            )
            self.stats.metrics_records += 1

    async def _flush(self) -> None:
        """Make everything pending durable, then ack its events (called under the lock)."""
        if self._pending_sends:
            delivered = await asyncio.gather(*self._pending_sends)
            await asyncio.gather(*delivered)
            self._pending_sends.clear()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.parquet.flush)
        for event in self._pending_events:
            await self._stream.ack(event)
        self._pending_events.clear()

    async def _tick(self) -> None:
        if self._stream is None or self._stopping or self._lock.locked():
            return  # not started, stopping, or a batch is in flight
        async with self._lock:
            if self.parquet.should_flush() or (
                self._pending_events and not self.parquet.buffered_rows
            ):
                await self._flush()
        idle = time.monotonic() - self._last_activity
        waited = self.stop_when_idle is not None and idle >= self.stop_when_idle
        if waited and await self._caught_up():
            await self._finish()

    async def _caught_up(self) -> bool:
        """True when every assigned input partition has been read up to its end offset."""
        if self.app.rebalancing:
            return False  # the assignment is about to change
        consumer = self.app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic == self.settings.input_topic]
        if not tps:
            return True  # more workers than partitions: nothing to wait for
        ends = await consumer.highwaters(*tps)
        for tp in tps:
            position = await consumer.position(tp)
            if position is None or position < ends.get(tp, 0):
                return False
        return True

    async def _finish(self) -> None:
        """Flush every sink, close all windows, commit, then stop the worker process."""
        self._stopping = True
        async with self._lock:
            self._send_metrics(self.windows.drain())
            await self._flush()
            await self.app.consumer.commit()
        log.info("idle for %ss: stopping", self.stop_when_idle)
        os.kill(os.getpid(), signal.SIGTERM)


def run_worker(
    settings: Settings, scorer: Scorer, stop_when_idle: float | None = None
) -> WorkerStats:
    """Run until stopped (SIGTERM/SIGINT) or idle; returns the counters of the run."""
    worker = TraceWorker(settings, scorer, stop_when_idle)
    faust_worker = faust.Worker(
        worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
    )
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise
    finally:
        scorer.close()
    return worker.stats
