"""Every kafka-python and aiokafka client configuration of the pipeline, built from settings.

The CLI's producer, admin and topic reader, the consumers of backfill and alerts, and the
receiver's aiokafka producer all start from ``client_config`` (servers, client id, TLS/SASL
of :mod:`pipeline.kafka.security`). The worker's faust app gets its credentials from
``security.faust_credentials``; the SDK (``pipeline.client``) keeps its own small config.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from pipeline.exceptions import PipelineError
from pipeline.kafka.security import aiokafka_kwargs, kafka_python_kwargs, tls_handshake_problem
from pipeline.settings import Settings


class KafkaUnavailableError(PipelineError):
    """No broker answered at the configured bootstrap servers."""


def client_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """What every kafka-python client shares: servers, client id, TLS/SASL."""
    return {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": client_id,
        **kafka_python_kwargs(settings),
    }


def _common(settings: Settings) -> dict[str, Any]:
    return {**client_config(settings, "evalstream-cli"), "bootstrap_timeout_ms": 10_000}


def make_consumer(settings: Settings, client_id: str, **config: Any) -> KafkaConsumer:
    """A consumer that commits nothing by itself and reads committed records only."""
    return KafkaConsumer(
        **client_config(settings, client_id),
        enable_auto_commit=False,
        isolation_level="read_committed",
        **config,
    )


def receiver_producer_config(settings: Settings, send_timeout_seconds: float) -> dict[str, Any]:
    """The OTLP receiver's aiokafka producer: idempotent, every replica acknowledges."""
    return {
        "bootstrap_servers": settings.bootstrap_list,
        "client_id": "evalstream-receiver",
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "request_timeout_ms": int(send_timeout_seconds * 1000),
        **aiokafka_kwargs(settings),
    }


def _unavailable(settings: Settings) -> KafkaUnavailableError:
    problem = tls_handshake_problem(settings)
    if problem is not None:
        return KafkaUnavailableError(f"cannot connect to {settings.bootstrap_servers}: {problem}")
    return KafkaUnavailableError(
        f"no Kafka broker at {settings.bootstrap_servers}"
        " (start one with `evalstream broker start` or set EVALSTREAM_BOOTSTRAP_SERVERS)"
    )


def make_producer(settings: Settings) -> KafkaProducer:
    try:
        return KafkaProducer(
            **_common(settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=10,
            batch_size=256 * 1024,
            compression_type=None,
        )
    except KafkaTimeoutError:
        raise _unavailable(settings) from None


def make_admin(settings: Settings) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(**_common(settings))
    except KafkaTimeoutError:
        raise _unavailable(settings) from None


def ensure_topics(settings: Settings, names: Iterable[str], partitions: int) -> None:
    """Create the topics that do not exist yet (existing ones are left as they are).

    Every producer path calls it before its first send (the worker, ``publish``, the
    receiver, alerts), so no topic is left to the broker's auto-creation, which gives
    ``num.partitions`` (usually 1) while the worker would create ``topic_partitions``.
    """
    admin = make_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in dict.fromkeys(names) if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()


def partition_counts(settings: Settings, names: Iterable[str]) -> dict[str, int]:
    """How many partitions each existing topic of ``names`` has (missing ones left out)."""
    consumer = KafkaConsumer(**_common(settings), enable_auto_commit=False)
    try:
        found = {name: consumer.partitions_for_topic(name) for name in dict.fromkeys(names)}
    finally:
        consumer.close()
    return {name: len(partitions) for name, partitions in found.items() if partitions}


def publish(
    settings: Settings,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes]],
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send every (key, value) with acks=all and wait until all are acknowledged; a missing
    topic is created first with ``EVALSTREAM_TOPIC_PARTITIONS`` partitions."""
    ensure_topics(settings, [topic], settings.topic_partitions)
    producer = make_producer(settings)
    sent = 0
    try:
        futures = []
        for key, value in records:
            futures.append(producer.send(topic, key=key, value=value))
            sent += 1
            if on_sent and sent % 500 == 0:
                on_sent(500)
        producer.flush()
        for future in futures:
            future.get(timeout=30)
        if on_sent and sent % 500:
            on_sent(sent % 500)
    except KafkaError as exc:
        raise PipelineError(f"publishing to {topic!r} failed: {exc}") from None
    finally:
        producer.close()
    return sent


def _last_records(
    consumer: KafkaConsumer, tp: TopicPartition, start: int, end: int, last: int, deadline: float
) -> list[Any]:
    """The last ``last`` records of one partition, counting records, not offsets.

    On a transactional topic every commit marker takes an offset too, so ``end - last`` holds
    fewer than ``last`` records (none at all for ``-n 1`` behind a marker): read a window back
    from the end and widen it until it holds enough records or reaches the start.
    """
    if last <= 0:
        return []
    window = last
    consumer.assign([tp])
    while True:
        begin = max(start, end - window)
        consumer.seek(tp, begin)
        records: list[Any] = []
        while consumer.position(tp) < end and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(r for r in batch if r.offset < end)
        if len(records) >= last or begin == start or time.monotonic() >= deadline:
            return records[-last:]
        window *= 2


def read_topic(
    settings: Settings,
    topic: str,
    *,
    last: int | None = None,
    follow: bool = False,
    timeout_seconds: float = 30.0,
) -> Iterator[Any]:
    """Records of a topic (committed only): the last ``last`` per partition, or all of them.

    Stops at the end offsets seen when it started, unless ``follow`` is set.
    """
    try:
        consumer = KafkaConsumer(
            **_common(settings), enable_auto_commit=False, isolation_level="read_committed"
        )  # not make_consumer: the CLI's bootstrap timeout turns into a one-line error
    except KafkaTimeoutError:
        raise _unavailable(settings) from None
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise PipelineError(f"topic {topic!r} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        ends = consumer.end_offsets(tps)
        starts = consumer.beginning_offsets(tps)
        deadline = time.monotonic() + timeout_seconds
        if last is not None:
            for tp in tps:
                yield from _last_records(consumer, tp, starts[tp], ends[tp], last, deadline)
            consumer.assign(tps)  # _last_records reads one partition at a time
            for tp in tps:
                consumer.seek(tp, ends[tp])
        else:
            for tp in tps:
                consumer.seek(tp, starts[tp])
        while follow or time.monotonic() < deadline:
            if not follow and all(consumer.position(tp) >= ends[tp] for tp in tps):
                return
            for batch in consumer.poll(timeout_ms=500).values():
                yield from batch
    finally:
        consumer.close()
