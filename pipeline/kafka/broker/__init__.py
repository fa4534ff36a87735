"""A local single-node Kafka (KRaft) for the demo, the ``evalstream broker`` command and tests.

``config`` knows the files and commands (server.properties, ports), ``jars`` fetches the jars
from Maven Central once, ``local`` starts, watches and stops the JVM process.
"""

from pipeline.kafka.broker.config import DEFAULT_KAFKA_VERSION, free_port
from pipeline.kafka.broker.exceptions import BrokerError
from pipeline.kafka.broker.jars import ensure_jars
from pipeline.kafka.broker.local import (
    BrokerHandle,
    broker_status,
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
