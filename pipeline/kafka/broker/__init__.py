"""A local single-node Kafka (KRaft) for the demo, the ``evalstream broker`` command and tests.

``config`` knows the files and commands (jars from Maven Central, server.properties, ports);
``local`` starts, watches and stops the JVM process.
"""

from pipeline.kafka.broker.config import DEFAULT_KAFKA_VERSION, free_port
from pipeline.kafka.broker.local import (
    BrokerError,
    BrokerHandle,
    broker_status,
    ensure_jars,
    is_reachable,
    kill_broker,
    start_broker,
    stop_broker,
)

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "BrokerError",
    "BrokerHandle",
    "broker_status",
    "ensure_jars",
    "free_port",
    "is_reachable",
    "kill_broker",
    "start_broker",
    "stop_broker",
]
