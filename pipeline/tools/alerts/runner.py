"""The alerts runtime behind ``evalstream alerts``: watch the metrics topic, publish alert
state changes.

One process reads every partition of the metrics topic (manual assignment, read_committed)
and keeps its read position in its own consumer group, so a restart resumes where it
stopped. Which alerts are firing is recovered from the alerts topic at start, so a restart
does not fire an open alert again. Run one instance: two would each alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from pipeline.exceptions import PipelineError
from pipeline.kafka.clients import ensure_topics, make_consumer, make_producer, read_topic
from pipeline.settings import Settings
from pipeline.tools.alerts.engine import AlertEngine
from pipeline.tools.alerts.rules import AlertMessage
from schemas import MetricsRecord

log = logging.getLogger(__name__)


@dataclass
class AlertStats:
    records: int = 0
    skipped: int = 0
    fired: int = 0
    resolved: int = 0


class Webhook:
    """POSTs alert JSON; retries with backoff, then logs and gives up (never raises)."""

    def __init__(self, url: str, timeout: float = 5.0, retries: int = 3) -> None:
        self.url = url
        self.retries = retries
        self.client = httpx.Client(timeout=timeout)
        self.failures = 0

    def post(self, body: bytes) -> bool:
        for attempt in range(self.retries + 1):
            try:
                response = self.client.post(
                    self.url, content=body, headers={"content-type": "application/json"}
                )
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("webhook %s refused: HTTP %s", self.url, response.status_code)
                    return response.status_code < 400
            except httpx.HTTPError as exc:
                log.warning("webhook %s failed (attempt %d): %s", self.url, attempt + 1, exc)
            if attempt < self.retries:
                time.sleep(min(0.5 * 2**attempt, 5.0))
        self.failures += 1
        log.error("webhook %s: alert dropped after %d attempts", self.url, self.retries + 1)
        return False

    def close(self) -> None:
        self.client.close()


def firing_from_topic(settings: Settings, topic: str) -> set[str]:
    """Keys (``rule|app``) whose last message on the alerts topic says "firing"."""
    state: dict[str, str] = {}
    try:
        for record in read_topic(settings, topic, timeout_seconds=15):
            try:
                alert = AlertMessage.model_validate_json(record.value)
            except (ValidationError, ValueError, TypeError):
                continue
            state[alert.key] = alert.state
    except PipelineError:  # the topic does not exist yet: nothing fired before
        return set()
    return {key for key, value in state.items() if value == "firing"}


def run_alerts(
    settings: Settings,
    engine: AlertEngine,
    *,
    alerts_topic: str,
    group: str,
    webhook: Webhook | None = None,
    stop_when_idle: float | None = None,
) -> AlertStats:
    """Consume metrics until stopped (or idle), sending each state change out."""
    stats = AlertStats()
    ensure_topics(settings, [alerts_topic], settings.topic_partitions)
    consumer = make_consumer(
        settings, "evalstream-alerts", group_id=group, auto_offset_reset="earliest"
    )
    producer = make_producer(settings)
    try:
        tps = _assign(consumer, settings.metrics_topic)
        idle_since = time.monotonic()
        while stop_when_idle is None or time.monotonic() - idle_since < stop_when_idle:
            polled = consumer.poll(timeout_ms=500)
            if not polled:
                continue
            idle_since = time.monotonic()
            changes = list(_changes(engine, (r for batch in polled.values() for r in batch), stats))
            for alert in changes:
                body = alert.model_dump_json().encode()
                producer.send(alerts_topic, key=alert.key.encode(), value=body)
                if webhook is not None:
                    webhook.post(body)
            producer.flush(timeout=30)
            consumer.commit({tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in tps})
    except KafkaError as exc:
        raise PipelineError(f"alerts on {settings.metrics_topic!r} failed: {exc}") from None
    finally:
        producer.close()
        consumer.close()
    return stats


def _assign(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise PipelineError(f"metrics topic {topic!r} does not exist (has a worker run?)")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return tps


def _changes(engine: AlertEngine, records: Iterable, stats: AlertStats) -> Iterable[AlertMessage]:
    for record in records:
        try:
            metrics = MetricsRecord.model_validate_json(record.value)
        except (ValidationError, ValueError, TypeError):
            stats.skipped += 1
            log.warning("skipped unreadable metrics record at offset %s", record.offset)
            continue
        stats.records += 1
        for alert in engine.add(metrics):
            stats.fired += alert.state == "firing"
            stats.resolved += alert.state == "resolved"
            yield alert
