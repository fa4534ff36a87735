"""The spans topic must exist before a table can be co-partitioned with it.

Both the receiver (at start) and the assembler (when the worker builds its app) call
``spans_topic_partitions``: a missing topic is created with ``topic_partitions`` (rather than
left to broker auto-creation, which usually gives one partition), and the assembler's table
gets exactly as many partitions as the topic has, so its changelog is co-partitioned.
"""

from __future__ import annotations

from pipeline.exceptions import PipelineError
from pipeline.kafka.clients import ensure_topics, make_admin
from pipeline.settings import Settings


def spans_topic_partitions(settings: Settings) -> int:
    """Partition count of the spans topic, creating the topic first if it is missing."""
    ensure_topics(settings, [settings.spans_topic], settings.topic_partitions)
    admin = make_admin(settings)
    try:
        for description in admin.describe_topics([settings.spans_topic]):
            partitions = description.get("partitions") or []
            if partitions:
                return len(partitions)
    finally:
        admin.close()
    raise PipelineError(f"spans topic {settings.spans_topic!r} has no partitions")
