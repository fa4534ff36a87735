"""Old import path kept only for ``pipeline.client`` and its tests (moved on branch ``client``);
delete once nothing imports it.
"""

from pipeline.kafka.broker import free_port, start_broker, stop_broker

__all__ = ["free_port", "start_broker", "stop_broker"]
