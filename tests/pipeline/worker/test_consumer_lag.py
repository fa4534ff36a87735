"""evalstream_consumer_lag during a backlog (issue 16, item 5): end offset minus committed
offset, and evalstream_consumer_lag_unprocessed: end minus processed, per partition, fresh
at every commit. The old gauge (end minus fetch position) read 0 while faust's buffer held
thousands of unscored traces."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import orjson
from kafka_helpers import produce
from prometheus_helpers import scrape
from worker_process import ROOT, worker_env

from pipeline.kafka.broker import free_port
from pipeline.tools.demo.samples import sample_traces

BACKLOG = 6000


def lag_of(samples: dict[str, float], name: str, topic: str) -> float | None:
    """The gauge summed over the input topic's 2 partitions; None until both have a sample."""
    values = [v for k, v in samples.items() if k.startswith(f"{name}{{") and f'"{topic}"' in k]
    return sum(values) if len(values) == 2 else None


def test_lag_gauges_show_the_backlog_and_drain_to_zero(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(BACKLOG, seed=9)])
    port = free_port()
    env = worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "pq",
        EVALSTREAM_METRICS_PORT=str(port),
        EVALSTREAM_BATCH_SIZE="100",
    )
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker"], env=env, cwd=ROOT, stderr=log.open("w")
    )
    seen: list[tuple[float, float, float]] = []  # (scored, committed lag, unprocessed lag)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                samples = scrape(port)
            except OSError:
                time.sleep(0.2)
                continue
            committed = lag_of(samples, "evalstream_consumer_lag", topic)
            unprocessed = lag_of(samples, "evalstream_consumer_lag_unprocessed", topic)
            scored = samples.get("evalstream_traces_scored_total", 0)
            if committed is not None and unprocessed is not None:
                seen.append((scored, committed, unprocessed))
                if scored >= BACKLOG and committed == 0:
                    break
            time.sleep(0.3)
        assert seen, log.read_text()[-3000:]
        during = [s for s in seen if 0 < s[0] < BACKLOG / 2]
        assert during, seen[:20]
        # While half the backlog is still unscored, both gauges say so (not 0).
        assert all(c >= BACKLOG / 2 and u >= BACKLOG / 2 for _, c, u in during[:3]), during[:5]
        assert all(c >= u for _, c, u in seen)  # processed is never behind committed
        assert all(c <= BACKLOG for _, c, _ in seen)
        assert seen[-1][1:] == (0, 0), seen[-5:]
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def test_a_partition_no_longer_owned_stops_being_exported():
    from collections import namedtuple

    from pipeline import prometheus
    from pipeline.worker.observers import PrometheusObserver

    tp = namedtuple("TP", "topic partition")
    observer = PrometheusObserver()
    observer.on_lag({tp("lag-t", 0): 7, tp("lag-t", 1): 3}, {tp("lag-t", 0): 2})
    sample = prometheus.CONSUMER_LAG.labels("lag-t", "1")._value.get()
    assert sample == 3
    observer.on_lag({tp("lag-t", 0): 5}, {})  # partition 1 moved to another worker
    exported = {
        s.labels["partition"]
        for metric in prometheus.CONSUMER_LAG.collect()
        for s in metric.samples
        if s.labels["topic"] == "lag-t"
    }
    assert exported == {"0"}
    assert not [
        s
        for metric in prometheus.CONSUMER_LAG_UNPROCESSED.collect()
        for s in metric.samples
        if s.labels["topic"] == "lag-t"
    ]
