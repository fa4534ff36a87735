"""A broker of a test module's own, to stop and restart (the session broker must stay up)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from kafka import KafkaAdminClient
from kafka_helpers import consume_all

from pipeline.kafka.broker import BrokerHandle, free_port, start_broker, stop_broker


class Broker:
    def __init__(self, data_dir: Path) -> None:
        self.handle: BrokerHandle = start_broker(port=free_port(), data_dir=data_dir)

    @property
    def bootstrap(self) -> str:
        return self.handle.bootstrap

    def stop(self) -> None:
        stop_broker(self.handle)

    def start(self) -> None:
        self.handle = start_broker(port=self.handle.port, data_dir=self.handle.data_dir)

    def topic(self, name: str, partitions: int = 2, **configs: str) -> str:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs}}
            )
            admin.wait_for_topics([name], timeout_ms=15000)
        finally:
            admin.close()
        return name

    def trace_ids(self, topic: str) -> Counter[str]:
        """How often each trace id is on ``topic`` (JSON traces)."""
        return Counter(json.loads(r.value)["trace_id"] for r in consume_all(self.bootstrap, topic))
