"""The worker's topics with Parquet rows from memory (``run._ensure_worker_topics``): scored
traces go to their source's partition, so the scored topic needs the input's partition count."""

from __future__ import annotations

import uuid

from pipeline.kafka.clients import partition_counts
from pipeline.settings import load_settings
from pipeline.worker.run import _ensure_worker_topics


def _settings(bootstrap: str, input_topic: str, scored_topic: str, **kwargs: object):
    return load_settings(
        bootstrap_servers=bootstrap,
        input_topic=input_topic,
        scored_topic=scored_topic,
        metrics_topic=f"{input_topic}.metrics",
        dlq_topic=f"{input_topic}.dlq",
        sessions_enabled=False,
        **kwargs,
    )


def test_a_missing_scored_topic_gets_the_input_topics_partition_count(kafka_bootstrap, new_topic):
    source = new_topic(3)
    scored = f"test-{uuid.uuid4().hex[:12]}"
    settings = _settings(kafka_bootstrap, source, scored, parquet_from="memory")
    chosen = _ensure_worker_topics(settings, [source, scored, settings.metrics_topic])
    assert chosen.parquet_from == "memory"
    assert partition_counts(settings, [scored]) == {scored: 3}


def test_existing_topics_of_different_counts_read_the_scored_topic_back(kafka_bootstrap, new_topic):
    source, scored = new_topic(3), new_topic(2)
    settings = _settings(kafka_bootstrap, source, scored, parquet_from="memory")
    chosen = _ensure_worker_topics(settings, [source, scored, settings.metrics_topic])
    assert chosen.parquet_from == "topic"


def test_the_topic_path_keeps_the_configured_partition_count(kafka_bootstrap, new_topic):
    source = new_topic(3)
    scored = f"test-{uuid.uuid4().hex[:12]}"
    settings = _settings(kafka_bootstrap, source, scored, parquet_from="topic")
    _ensure_worker_topics(settings, [source, scored])
    assert partition_counts(settings, [scored]) == {scored: settings.topic_partitions}
