"""Plain consume -> JSON decode -> JSON encode -> produce loops: the baselines of
benchmarks/throughput.py. Each runs as its own process (like a worker):

    python benchmarks/_bench_baseline.py MODE BOOTSTRAP INPUT OUTPUT GROUP COUNT

Every loop decodes each message with ``orjson.loads`` and re-encodes it with ``orjson.dumps``
(no validation, no scoring), keys its sends by the input key, produces with the worker's
durability (acks=all, idempotence) and exits after COUNT messages. MODE:

- ``strong``: the strongest plain aiokafka loop we could write: ``getmany`` of up to 2,000
  records, sends not awaited one by one (their delivery futures are gathered per fetched
  batch, up to ``IN_FLIGHT`` batches in flight), linger 5 ms, 1 MiB producer batches,
  offsets committed every second after the sends up to them were acknowledged;
- ``transactional``: the same loop with a transactional producer (the like-for-like of the
  exactly-once worker): one transaction per ``COMMIT_SECONDS`` (the worker's default commit
  interval) carrying its sends and the consumer offsets (``send_offsets_to_transaction``);
- ``throttled``: the loop this benchmark used before (issue 20): 16 KiB batches, one batch of
  acks in flight, auto-commit;
- ``confluent`` / ``confluent-transactional``: the same two loops with confluent-kafka
  (librdkafka), when it is installed (``benchmarks/_bench_confluent.py``).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

IN_FLIGHT = 4  # fetched batches whose sends may be unacknowledged at once
COMMIT_SECONDS = 1.0  # the worker's default EVALSTREAM_COMMIT_INTERVAL_SECONDS
MAX_RECORDS = 2000
BATCH_BYTES = 1024 * 1024


def _consumer(bootstrap: str, source: str, group: str, **extra) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        max_poll_records=MAX_RECORDS,
        fetch_max_bytes=16 * BATCH_BYTES,
        **extra,
    )


async def strong(bootstrap: str, source: str, target: str, group: str, count: int) -> None:
    consumer = _consumer(bootstrap, source, group, enable_auto_commit=False)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=BATCH_BYTES,
    )
    await consumer.start()
    await producer.start()
    seen, last_commit = 0, time.monotonic()
    in_flight: deque[tuple[asyncio.Future, dict]] = deque()
    acked: dict[TopicPartition, int] = {}
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
            futures, offsets = [], {}
            for tp, records in batches.items():
                for record in records:
                    value = orjson.dumps(orjson.loads(record.value))
                    futures.append(await producer.send(target, value, key=record.key))
                seen += len(records)
                offsets[tp] = records[-1].offset + 1
            if futures:
                in_flight.append((asyncio.gather(*futures), offsets))
            while len(in_flight) > IN_FLIGHT or (in_flight and in_flight[0][0].done()):
                done, offsets_done = in_flight.popleft()
                await done
                acked.update(offsets_done)
            if acked and time.monotonic() - last_commit >= COMMIT_SECONDS:
                await consumer.commit(acked)
                acked, last_commit = {}, time.monotonic()
        for done, offsets_done in in_flight:
            await done
            acked.update(offsets_done)
        if acked:
            await consumer.commit(acked)
    finally:
        await producer.stop()
        await consumer.stop()


async def transactional(bootstrap: str, source: str, target: str, group: str, count: int) -> None:
    consumer = _consumer(
        bootstrap, source, group, enable_auto_commit=False, isolation_level="read_committed"
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=BATCH_BYTES,
        transactional_id=f"{group}-baseline",
    )
    await consumer.start()
    await producer.start()
    seen = 0
    try:
        while seen < count:
            await producer.begin_transaction()
            started, offsets = time.monotonic(), {}
            while seen < count and time.monotonic() - started < COMMIT_SECONDS:
                batches = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
                for tp, records in batches.items():
                    for record in records:
                        value = orjson.dumps(orjson.loads(record.value))
                        await producer.send(target, value, key=record.key)
                    seen += len(records)
                    offsets[tp] = records[-1].offset + 1
            if offsets:
                await producer.send_offsets_to_transaction(offsets, group)
            await producer.commit_transaction()  # flushes and waits for every send
    finally:
        await producer.stop()
        await consumer.stop()


async def throttled(bootstrap: str, source: str, target: str, group: str, count: int) -> None:
    """The baseline before issue 20 (kept to show how much it flattered the ratios)."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        max_poll_records=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    seen = 0
    in_flight: list[asyncio.Future] = []
    try:
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            futures = []
            for records in batches.values():
                for record in records:
                    doc = orjson.loads(record.value)
                    futures.append(await producer.send(target, orjson.dumps(doc), key=record.key))
                    seen += 1
            if in_flight:  # one batch in flight while the next is fetched and sent
                await asyncio.gather(*in_flight)
            in_flight = futures
        await asyncio.gather(*in_flight)
        await producer.flush()
        await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


AIOKAFKA = {"strong": strong, "transactional": transactional, "throttled": throttled}
MODES = (*AIOKAFKA, "confluent", "confluent-transactional")


def main(argv: list[str]) -> None:
    mode, bootstrap, source, target, group, count = argv[:6]
    if mode in AIOKAFKA:
        asyncio.run(AIOKAFKA[mode](bootstrap, source, target, group, int(count)))
        return
    from _bench_confluent import run

    run(mode == "confluent-transactional", bootstrap, source, target, group, int(count))


if __name__ == "__main__":
    main(sys.argv[1:])
