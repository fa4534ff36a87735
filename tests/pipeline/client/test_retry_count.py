"""``stats().retried`` counts every re-send, kafka-python's own included, through a real
broker: one that refuses writes with a retriable error, and one stopped and restarted."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import kafka
from kafka_helpers import wait_until
from restartable_broker import Broker

from evalstream_client import ClientSettings, TraceProducer
from evalstream_client.kafka_compat import count_retries
from pipeline.sample_traces import sample_traces


class KafkaPythonRetryLines(logging.Filter):
    """Counts kafka-python's own "retrying" warnings (one per re-sent batch). Put before the
    SDK's log gate, which holds these lines back from handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.logger = logging.getLogger("kafka.producer.sender")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING and "retrying" in record.getMessage():
            self.count += 1
        return True

    def __enter__(self) -> KafkaPythonRetryLines:
        self.logger.filters.insert(0, self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeFilter(self)


def _settings(broker: Broker) -> ClientSettings:
    return ClientSettings.from_env({}, bootstrap_servers=broker.bootstrap)


@contextlib.contextmanager
def frozen(broker: Broker) -> Iterator[None]:
    """The broker's JVM stopped (SIGSTOP): connections stay open, nothing is answered."""
    os.kill(broker.handle.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(broker.handle.pid, signal.SIGCONT)


def test_kafka_python_retries_count_in_retried(broker: Broker, tmp_path: Path) -> None:
    """A broker that stops answering: kafka-python's produce requests time out (1.5 s here)
    and it re-sends them itself, inside its 120 s delivery timeout, so the SDK never sees an
    error and never re-sends; every retry counted here is kafka-python's. Once the broker
    answers again, the idempotent producer's re-sends are de-duplicated: each trace once."""
    topic = broker.topic("retries-frozen", partitions=1)
    warm_up, traces = list(sample_traces(35, seed=5))[:5], list(sample_traces(35, seed=5))[5:]
    producer = TraceProducer(
        _settings(broker),
        topic=topic,
        spill_dir=tmp_path / "spill",
        kafka_config={"request_timeout_ms": 1_500},
    )
    try:
        for trace in warm_up:  # connected to the partition's leader, metadata known
            producer.log_trace(trace)
        assert producer.flush(30) and producer.stats().sent == 5
        with KafkaPythonRetryLines() as lines:
            with frozen(broker):
                for trace in traces:
                    producer.log_trace(trace)
                wait_until(lambda: lines.count >= 1, 30, "kafka-python re-sent a batch")
                during = producer.stats()
            assert producer.flush(60), producer.stats()
            stats = producer.stats()
    finally:
        producer.close()
    print(f"\n{lines.count} kafka-python retry lines; during: {during}; after: {stats}")
    assert during.sent == 5 and during.retried >= 1, during
    # each retry line is one re-sent batch of 1..30 traces
    assert lines.count <= stats.retried <= 30 * lines.count, (lines.count, stats)
    assert stats.sent == 35 and stats.spilled == 0 and stats.failed == 0, stats
    assert broker.trace_ids(topic) == Counter({t["trace_id"]: 1 for t in warm_up + traces})


def test_retries_through_a_broker_restart_are_counted(broker: Broker, tmp_path: Path) -> None:
    """Traffic keeps flowing while the broker is stopped and restarted (kafka-python's default
    delivery timeout, so the SDK itself rarely re-sends): the batches kafka-python had in
    flight or re-sent are counted, and every trace arrives once."""
    topic = broker.topic("retries-restart", partitions=2)
    traces = list(sample_traces(3000, seed=6))
    producer = TraceProducer(
        _settings(broker), topic=topic, spill_dir=tmp_path / "spill", max_queue_size=5000
    )
    stop_logging = threading.Event()

    def app() -> None:  # ~600 traces/s until every trace is logged
        for start in range(0, len(traces), 30):
            for trace in traces[start : start + 30]:
                producer.log_trace(trace)
            if stop_logging.wait(0.05):
                return

    with KafkaPythonRetryLines() as lines:
        thread = threading.Thread(target=app)
        thread.start()
        try:
            wait_until(lambda: producer.stats().sent >= 300, 30, "traffic flows")
            broker.stop()
            time.sleep(2.0)
            broker.start()
            thread.join(60)
            assert producer.flush(120), producer.stats()
            wait_until(lambda: not producer.stats().spill_files, 60, f"replay: {producer.stats()}")
            stats = producer.stats()
        finally:
            stop_logging.set()
            producer.close()
    print(f"\n{lines.count} kafka-python retry lines; {stats}")
    assert stats.sent + stats.spilled == 3000 and stats.replayed == stats.spilled, stats
    assert stats.retried >= lines.count, (lines.count, stats)
    assert lines.count > 0  # the restart made kafka-python re-send: counted above
    assert broker.trace_ids(topic) == Counter({t["trace_id"]: 1 for t in traces})


def test_a_kafka_python_without_the_retry_sensor_is_said_once(caplog) -> None:
    class MetricsOff:  # what KafkaProducer(metrics_enabled=False) looks like
        _metrics = None

    with caplog.at_level(logging.WARNING):
        assert count_retries(MetricsOff(), lambda records: None) is False
    assert [r.getMessage() for r in caplog.records] == [
        f"kafka-python {kafka.__version__} has no 'record-retries' sensor (or metrics are off):"
        " stats().retried counts the SDK's own retries only"
    ]
