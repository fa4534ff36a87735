"""What TraceProducer and KafkaSpanExporter are both made of, wired in one place.

Each has its own kafka-python producer (a client id unique in the process, so kafka-python's
warnings from its network thread can be told apart and folded into its outage lines), spill
store, counters, view of Kafka's health, stop event, and a ``ReplaySender`` link thread that
connects and replays. ``KafkaParts.create`` builds them; the two owners receive them.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalstream_client.kafka_compat import count_retries
from evalstream_client.kafka_config import producer_config
from evalstream_client.kafka_logs import GATE
from evalstream_client.link import ReplaySender
from evalstream_client.outage import KafkaHealth
from evalstream_client.settings import ClientSettings
from evalstream_client.spill import SpillStore
from evalstream_client.stats import DeliveryCounters

_instances = itertools.count(1)  # client ids: evalstream-sdk-1, evalstream-span-exporter-2 ...


@dataclass
class KafkaParts:
    topic: str
    config: dict[str, Any]
    counters: DeliveryCounters
    spill: SpillStore
    health: KafkaHealth
    stop: threading.Event

    @classmethod
    def create(
        cls,
        settings: ClientSettings,
        *,
        client_name: str,
        topic: str,
        spill_dir: Path,
        kafka_config: Mapping[str, Any] | None,
        outage_log_interval: float,
    ) -> KafkaParts:
        client_id = f"{client_name}-{next(_instances)}"
        config = producer_config(settings, client_id, **dict(kafka_config or {}))
        counters = DeliveryCounters()
        where = f"Kafka at {','.join(config['bootstrap_servers'])} (topic {topic})"
        health = KafkaHealth(where, counters.snapshot, outage_log_interval)
        return cls(topic, config, counters, SpillStore(spill_dir), health, threading.Event())

    @property
    def thread_prefix(self) -> str:
        """Names of our threads and of kafka-python's network thread (``<client_id>-...``)."""
        return f"{self.config['client_id']}-"

    def connect(self) -> Any:
        """A connected kafka-python producer (its constructor contacts a broker) whose own
        retries count in ``retried``, beside the SDK's."""
        from kafka import KafkaProducer  # imported here: importing the SDK stays cheap

        GATE.attach()  # kafka-python's loggers exist once its modules are imported
        producer = KafkaProducer(**self.config)
        GATE.attach()
        count_retries(producer, lambda records: self.counters.add("retried", records))
        return producer

    def replay_sender(self, **options: Any) -> ReplaySender:
        return ReplaySender(
            self.stop,
            self.connect,
            self.spill,
            self.counters,
            self.health,
            topic=self.topic,
            **options,
        )

    def thread(self, target: Callable[..., Any], name: str, *args: Any) -> threading.Thread:
        return threading.Thread(
            target=target, args=args, name=self.thread_prefix + name, daemon=True
        )

    def watch_logs(self) -> None:
        GATE.register(self.thread_prefix, self.health)

    def unwatch_logs(self) -> None:
        GATE.unregister(self.thread_prefix, self.health)
