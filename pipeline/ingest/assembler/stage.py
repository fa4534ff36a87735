"""Span assembler: spans topic -> traces topic, inside the worker's faust app.

Spans of one trace arrive in many messages (an exporter flushes every few seconds, the
Collector may split per span), out of order, sometimes twice. The assembler keeps them in a
changelog-backed faust table keyed by trace id and emits one trace (``spans_to_trace``) once
the root span has ended + ``trace_grace_seconds``, or ``trace_max_wait_seconds`` after the
first span. Rules per entry are in ``_assembler_state``; late spans give a version 2.

Faust tables are partitioned like their source topic: the spans topic is keyed by trace id
(the receiver and the Collector with ``partition_traces_by_id`` do that), the table gets as
many partitions as the topic, and the timer only touches entries of spans partitions this
worker owns (standby copies of other workers' partitions live in the same local store).
Spans a producer put on another partition than Kafka's default partitioner would (the
Collector hashes differently) are re-sent to their home partition first (``routing``).

Emitting is at least once: the trace is sent and acknowledged before its entry shrinks to a
marker, so a crash in between re-emits the same trace_id after restart. A batch of spans
taken before a rebalance began is not marked durable after it (``GenerationGuard``): the
revocation committed without it, and the partition's next owner reads it again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import faust
import orjson

from pipeline.decode.trace import DecodeError
from pipeline.ingest.assembler import routing, state
from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.spans.dicts import group_by_trace
from pipeline.ingest.spans.otlp import decode_otlp_json, decode_otlp_proto
from pipeline.ingest.spans_topic import spans_topic_partitions
from pipeline.kafka.generation import GenerationGuard
from pipeline.kafka.lag import partition_lag
from pipeline.kafka.redelivery import FirstDelivery, first_deliveries
from pipeline.settings import Settings
from pipeline.sinks.encode import RecordEncoder

log = logging.getLogger(__name__)

TABLE_NAME = "span-assembler"
TICK_SECONDS = 1.0
BATCH, BATCH_SECONDS = 500, 0.2
OnDurable = Callable[[dict[Any, int]], None]


def decode_spans(raw: bytes | None, encoding: str) -> list[dict[str, Any]]:
    """Normalized spans of one message; JSON or protobuf is told apart by the first byte."""
    if not raw:
        raise DecodeError("empty message (no value)", "empty")
    # A protobuf ExportTraceServiceRequest starts with 0x0A (field 1, length-delimited),
    # which is also JSON whitespace: only a '{' after optional whitespace means JSON.
    looks_json = raw.lstrip()[:1] == b"{" or (encoding == "otlp_json" and raw[:1] != b"\n")
    decoders = [decode_otlp_json, decode_otlp_proto] if looks_json else [decode_otlp_proto]
    error: DecodeError | None = None
    for decoder in decoders:
        try:
            return decoder(raw)
        except IngestError as exc:
            error = error or DecodeError(str(exc), "invalid_otlp")
        except Exception as exc:  # untrusted input: any failure is the message's fault
            error = error or DecodeError(f"invalid OTLP spans: {exc!r}", "invalid_otlp")
    assert error is not None
    raise error


class SpanAssembler:
    """Table, agent and timer of the assembler on one faust app."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        partitions: int,
        on_durable: OnDurable,
        encoder: RecordEncoder,
        first_delivery: FirstDelivery = lambda tp, offset, generation: True,
        generation: GenerationGuard | None = None,
    ) -> None:
        self.app = app
        self.partitions = partitions
        self.on_durable = on_durable
        self.first_delivery = first_delivery
        self.generation = generation  # None: every batch is taken as live
        self.settings = settings
        self.encoder = encoder  # dead letters are written redacted, like the worker's
        self.timing = state.Timing(
            settings.trace_grace_seconds,
            settings.trace_max_wait_seconds,
            keep_emitted_bytes=settings.trace_keep_emitted_bytes,
        )
        self.topic = app.topic(settings.spans_topic, value_type=bytes, key_type=bytes)
        self.table = app.Table(
            TABLE_NAME,
            partitions=partitions,
            key_type=str,
            help="Spans per trace id until the trace is emitted (evalstream assembler).",
        )
        self.lock = asyncio.Lock()
        self.emitted = 0
        self.dead_lettered = 0
        self.rerouted = 0  # traces' spans re-sent to their home partition
        app.agent(self.topic, name="assemble-spans")(self._agent)
        app.timer(interval=TICK_SECONDS)(self._tick)

    # Table writes go through the plain (non-transactional) producer with an explicit
    # partition: the timer writes outside stream iteration, and under exactly_once a
    # transactional write with no offsets to commit would stay open until the transaction
    # times out. Each write is durable once acknowledged; events are acked only after that.
    async def _put(self, key: str, entry: dict[str, Any] | None, partition: int) -> Any:
        if entry is None:
            self.table.data.pop(key, None)
        else:
            self.table.data[key] = entry
        serializers = self.app.serializers
        key_bytes = serializers.dumps_key(str, key, serializer=self.table.key_serializer)
        value_bytes = (
            None
            if entry is None
            else serializers.dumps_value(None, entry, serializer=self.table.value_serializer)
        )
        return await self.app.producer.send(
            self.table.changelog_topic.get_topic_name(),
            key_bytes, value_bytes, partition, None, None,
        )  # fmt: skip

    async def _agent(self, stream: Any) -> None:
        async for batch in stream.noack_take(BATCH, within=BATCH_SECONDS):
            await self._take(stream, batch)

    async def _take(self, stream: Any, batch: list[Any]) -> None:
        """One batch: its spans into the table, then acked and marked durable once the table
        writes are acknowledged, unless a rebalance began meanwhile. Then the revocation has
        committed without these offsets, and claiming them now would let a later commit pin
        offsets past spans the partition's next owner may not have recovered: they are acked
        and dropped instead, and read again from the committed offset: a span merged twice
        is kept once (``state.merge``); a dead letter or re-routed stray of the batch is
        sent again, at least once, as after a crash."""
        events = await self._first_deliveries(stream, batch)
        if not events:
            return
        async with self.lock:
            writes = [w for event in events for w in await self._absorb(event.message)]
        await asyncio.gather(*writes)  # a failure raises: nothing acked, all re-read
        if self.generation is not None and await self.generation.batch_ended(
            stream, events, "spans record"
        ):
            return
        for event in events:
            await stream.ack(event)
        self.on_durable({event.message.tp: event.message.offset + 1 for event in events})

    async def _first_deliveries(self, stream: Any, batch: list[Any]) -> list[Any]:
        """The events handed out for the first time in the live consumer generation; events
        of an ended generation, and faust's second copies after a rebalance (see
        ``Checkpoint.first_delivery``) are acked and dropped: their spans are in the table
        already, and a copy would re-send its strays and dead letters."""
        return await first_deliveries(
            stream, batch, self.first_delivery, "spans record", self.generation
        )

    async def _absorb(self, message: Any) -> list[Any]:
        """Merge one message's spans into the table; returns the pending writes."""
        try:
            spans = decode_spans(message.value, self.settings.spans_encoding)
        except DecodeError as error:
            return [await self._dead_letter(error, message)]
        writes = []
        valid = [s for s in spans if s.get("trace_id") and s.get("span_id")]
        if len(valid) < len(spans):
            missing = len(spans) - len(valid)
            reason = f"{missing} of {len(spans)} spans have no trace or span id"
            writes.append(await self._dead_letter(DecodeError(reason, "missing_id"), message))
        now = time.time()
        groups = {group[0]["trace_id"]: group for group in group_by_trace(valid)}
        strays = {
            k for k in groups if routing.home_partition(k, self.partitions) != message.partition
        }
        if strays:
            rerouted = await self._reroute(message, strays)
            if rerouted is None:  # cannot be split: merged where they are, as before
                strays = set()
            else:
                writes += rerouted
        for key, group in groups.items():
            if key in strays:
                continue
            entry, _ = state.merge(self.table.data.get(key), group, message.partition, now)
            if entry is not None:
                writes.append(await self._put(key, entry, message.partition))
        return writes

    async def _reroute(self, message: Any, strays: set[str]) -> list[Any] | None:
        """Send the stray traces' spans to their home partitions; None when the message
        cannot be split (logged), so the caller keeps them here."""
        try:
            bodies = routing.split_strays(message.value, strays, self.settings.spans_encoding)
        except IngestError as error:
            log.warning("spans of %d traces stay on partition %d: %s", len(strays),
                        message.partition, error)  # fmt: skip
            return None
        self.rerouted += len(bodies)
        return [
            await self._send(
                self.settings.spans_topic,
                trace.encode(),
                body,
                partition=routing.home_partition(trace, self.partitions),
            )
            for trace, body in bodies.items()
        ]

    async def _dead_letter(self, error: DecodeError, message: Any) -> Any:
        body = self.encoder.dead_letter_of(error, message)
        self.dead_lettered += 1
        return await self._send(self.settings.dlq_topic, message.key, body)

    async def _send(
        self, topic: str, key: bytes | None, value: bytes, partition: int | None = None
    ) -> Any:
        return await self.app.producer.send(topic, key, value, partition, None, None)

    def owned_partitions(self) -> set[int] | None:
        """Spans partitions this worker actively owns; None while (re)balancing."""
        if self.app.rebalancing:
            return None
        name = self.settings.spans_topic
        return {tp.partition for tp in self.app.consumer.assignment() if tp.topic == name}

    async def idle(self) -> bool:
        """For ``--stop-when-idle``: no trace pending and every owned spans partition read to
        its end."""
        owned = self.owned_partitions()
        if owned is None or self.pending():
            return False
        consumer = self.app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic == self.settings.spans_topic]
        lag = await partition_lag(consumer, tps)
        return all(n == 0 for n in lag.values())

    def pending(self) -> int:
        """Traces collected but not emitted yet, on the partitions this worker owns."""
        owned = self.owned_partitions() or set()
        return sum(
            1 for e in list(self.table.data.values()) if e["p"] in owned and state.is_pending(e)
        )

    async def _tick(self) -> None:
        owned = self.owned_partitions()
        if not owned or self.lock.locked():
            return
        async with self.lock:
            now = time.time()
            due, expired = [], []
            for key, entry in list(self.table.data.items()):
                if entry["p"] not in owned:
                    continue
                if state.is_due(entry, now, self.timing):
                    due.append((key, entry))
                elif state.is_expired(entry, now, self.timing):
                    expired.append(await self._put(key, None, entry["p"]))
            if due:
                await self._emit(due, now)
            await asyncio.gather(*expired)

    async def _emit(self, due: list[tuple[str, dict[str, Any]]], now: float) -> None:
        """Send every due trace, and only once Kafka has it, shrink its entry to a marker."""
        sends, writes = [], []
        for key, entry in due:
            try:
                trace = state.build_trace(entry)
            except Exception as exc:  # a rule tripped on odd spans: dead-letter them, go on
                writes.append(await self._unbuildable(key, entry, exc))
                marker = state.after_emit(entry, now, None, self.timing.keep_emitted_bytes)
                writes.append(await self._put(key, marker, entry["p"]))
                continue
            trace_key = trace["trace_id"].encode()
            sent = await self._send(self.settings.input_topic, trace_key, orjson.dumps(trace))
            sends.append((key, entry, trace["trace_id"], sent))
        results = await asyncio.gather(*(fut for *_, fut in sends), return_exceptions=True)
        for (key, entry, trace_id, _), result in zip(sends, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("emitting trace %s failed (retried next tick): %s", key, result)
                continue
            marker = state.after_emit(entry, now, trace_id, self.timing.keep_emitted_bytes)
            writes.append(await self._put(key, marker, entry["p"]))
            self.emitted += 1
        await asyncio.gather(*writes)

    async def _unbuildable(self, key: str, entry: dict[str, Any], exc: Exception) -> Any:
        error = DecodeError(f"cannot build a trace from the spans: {exc!r}", "assembly")
        raw = orjson.dumps(list(entry["spans"].values()))
        body = self.encoder.dead_letter(
            error,
            raw,
            key.encode(),
            topic=self.settings.spans_topic,
            partition=entry["p"],
            offset=0,
        )
        self.dead_lettered += 1
        return await self._send(self.settings.dlq_topic, key.encode(), body)


def install_assembler(
    app: faust.App,
    settings: Settings,
    on_durable: OnDurable,
    first_delivery: FirstDelivery = lambda tp, offset, generation: True,
    generation: GenerationGuard | None = None,
) -> SpanAssembler:
    """Register the assembler's topic, table, agent and timer on the worker's faust app.

    ``on_durable`` gets, after each batch, the spans offsets (next to read, per partition)
    whose spans are safe in the table's changelog: the worker commits them with its own
    offsets (it replaces faust's commit path, so nothing else would). ``first_delivery``
    tells a record handed out for the first time in a consumer generation from faust's copy
    after a rebalance (the worker's ``Checkpoint.first_delivery``); ``generation`` tells a
    batch taken before a rebalance began (the worker's guard).
    """
    partitions = spans_topic_partitions(settings)
    encoder = RecordEncoder.create(settings)
    return SpanAssembler(app, settings, partitions, on_durable, encoder, first_delivery, generation)
