"""Small kafka-python helpers for tests that talk to a real broker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError


def produce(
    bootstrap: str, topic: str, values: list[bytes], flush_timeout: float = 30, **config
) -> None:
    """Send *values* to *topic* and wait until every one is acknowledged (acks=all); a send
    that failed (expired, refused) raises instead of leaving the topic short."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **config)
    try:
        futures = [producer.send(topic, value) for value in values]
        producer.flush(timeout=flush_timeout)
        failed = [f.exception for f in futures if f.failed()]
        if failed:
            raise AssertionError(f"{len(failed)} of {len(values)} sends failed: {failed[0]!r}")
    finally:
        producer.close()


def consume_all(
    bootstrap: str,
    topic: str,
    timeout: float = 15,
    isolation_level: Literal["read_uncommitted", "read_committed"] = "read_uncommitted",
    **config,
) -> list[ConsumerRecord]:
    """Every record of *topic* from the beginning up to its end offsets when called.

    No consumer group (nothing is committed). With read_committed the end offset is the
    last stable offset, so open transactions do not make this wait for *timeout*.
    Records are returned per partition in offset order, partitions in ascending order.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        **config,
    )
    try:
        deadline = time.monotonic() + timeout
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.1)
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise TimeoutError(f"topic {topic!r} not found within {timeout}s")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in tps}
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"read {sum(map(len, records.values()))} records of {topic!r}"
                    f" but not up to {end} within {timeout}s"
                )
            for tp, batch in consumer.poll(timeout_ms=200).items():
                records[tp].extend(batch)
        return [record for tp in tps for record in records[tp]]
    finally:
        consumer.close()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``condition`` until it is true; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


def wait_for_members(bootstrap: str, group: str, count: int, timeout: float = 60) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                group_info = admin.describe_groups([group])[group]
            except KafkaError:  # the group coordinator is not elected yet
                group_info = {"group_state": "", "members": []}
            if group_info["group_state"] == "Stable" and len(group_info["members"]) == count:
                return
            time.sleep(0.3)
        raise AssertionError(f"group {group} did not reach {count} stable members")
    finally:
        admin.close()


def group_progress(bootstrap: str, group: str, topic: str) -> dict[int, tuple[int | None, int]]:
    """Per partition of ``topic``: (the group's committed offset or None, the end offset).

    For assertion messages: which partitions a consumer group left behind, and by how much.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        committed = {
            tp.partition: meta.offset
            for tp, meta in admin.list_group_offsets(group)[group].items()
            if tp.topic == topic
        }
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        end = consumer.end_offsets(tps)
        return {tp.partition: (committed.get(tp.partition), end[tp]) for tp in tps}
    finally:
        consumer.close()
        admin.close()
