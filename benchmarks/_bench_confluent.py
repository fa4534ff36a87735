"""The confluent-kafka (librdkafka) baseline loops of ``benchmarks/_bench_baseline.py``: a
reference for what the fastest Python client does on the same broker, not a dependency of
evalstream (it comes with the ``bench`` extra that ``make install`` installs).

Same work as the aiokafka loops: consume up to 2,000 messages, ``orjson.loads`` +
``orjson.dumps`` each, produce it keyed by the input key with acks=all and idempotence,
linger 5 ms. Plain: offsets committed (asynchronously) every second once the sends before
them were delivered (``flush``). Transactional: one transaction per second with its offsets.
"""

from __future__ import annotations

import time

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

COMMIT_SECONDS = 1.0
MAX_RECORDS = 2000


def run(transactional: bool, bootstrap: str, source: str, target: str, group: str, count: int):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    config = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "batch.size": 1024 * 1024,
    }
    if transactional:
        config["transactional.id"] = f"{group}-baseline"
    producer = Producer(config)
    consumer.subscribe([source])
    if transactional:
        producer.init_transactions()
        producer.begin_transaction()
    seen, last_commit = 0, time.monotonic()
    offsets: dict[tuple[str, int], int] = {}
    try:
        while seen < count:
            for message in consumer.consume(MAX_RECORDS, timeout=0.2):
                if message.error():
                    continue
                value = orjson.dumps(orjson.loads(message.value()))
                while True:
                    try:
                        producer.produce(target, value, message.key())
                        break
                    except BufferError:  # local queue full: serve delivery reports
                        producer.poll(0.01)
                offsets[message.topic(), message.partition()] = message.offset() + 1
                seen += 1
            producer.poll(0)
            if offsets and (time.monotonic() - last_commit >= COMMIT_SECONDS or seen >= count):
                tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
                if transactional:
                    producer.send_offsets_to_transaction(tps, consumer.consumer_group_metadata())
                    producer.commit_transaction()
                    if seen < count:
                        producer.begin_transaction()
                else:
                    producer.flush()
                    consumer.commit(offsets=tps, asynchronous=True)
                offsets, last_commit = {}, time.monotonic()
        producer.flush()
    finally:
        consumer.close()
