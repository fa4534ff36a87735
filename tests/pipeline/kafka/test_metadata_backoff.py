"""A failed aiokafka metadata update waits the client's retry backoff before it reports
failure (pipeline/kafka/metadata_backoff.py), so loops waiting on it stop spinning while a
broker is away. A real AIOKafkaClient pointed at a port nobody listens on."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError

from pipeline.kafka.broker.local import free_port
from pipeline.kafka.metadata_backoff import install_metadata_backoff


async def _failed_update_seconds() -> float:
    client = AIOKafkaClient(bootstrap_servers=f"127.0.0.1:{free_port()}", retry_backoff_ms=400)
    try:
        started = time.monotonic()
        assert await client._metadata_update(ClusterMetadata(), None) is False
        elapsed = time.monotonic() - started
        with pytest.raises(KafkaError, match="Unable to get cluster metadata"):
            await client.fetch_all_metadata()  # the receiver's probe: still a plain failure
        return elapsed
    finally:
        await client.close()


def test_a_failed_metadata_update_waits_the_retry_backoff() -> None:
    assert install_metadata_backoff() is True
    assert install_metadata_backoff() is True  # once per process: not wrapped twice
    assert asyncio.run(_failed_update_seconds()) >= 0.4
