"""Old import path kept only for ``pipeline.client`` and its tests (moved on branch ``client``);
delete once nothing imports it.
"""

from pipeline.kafka.security import kafka_python_kwargs

__all__ = ["kafka_python_kwargs"]
