"""The raw ceiling: an aiokafka loop that consumes, JSON-decodes (orjson) and produces each
message to an output topic. Run as its own process (like a worker) by benchmarks/throughput.py:

    python benchmarks/_bench_baseline.py BOOTSTRAP INPUT OUTPUT GROUP COUNT

Same producer durability as the worker (acks=all, linger 5 ms), no transactions, no
validation, no scoring. Sends are not awaited one by one: a fetched batch is sent, and its acks are
awaited together after the next batch has been sent (one batch in flight).
Exits after COUNT messages.
"""

from __future__ import annotations

import asyncio
import sys

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def main(bootstrap: str, source: str, target: str, group: str, count: int) -> None:
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


if __name__ == "__main__":
    bootstrap, source, target, group, count = sys.argv[1:6]
    asyncio.run(main(bootstrap, source, target, group, int(count)))
