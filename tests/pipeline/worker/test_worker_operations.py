"""Operating a worker: Prometheus metrics while it runs, and a clean SIGTERM shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import orjson
import pandas as pd
from kafka_helpers import consume_all, produce
from prometheus_helpers import scrape
from worker_process import ROOT, run_worker, worker_env

from pipeline.kafka.broker import free_port
from pipeline.tools.demo.samples import sample_traces


def test_metrics_endpoint_and_graceful_sigterm(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    port = free_port()
    env = worker_env(kafka_bootstrap, topic, tmp_path / "pq", EVALSTREAM_METRICS_PORT=str(port))
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker"], env=env, cwd=ROOT, stderr=log.open("w")
    )
    try:
        produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(300, seed=4)])
        produce(kafka_bootstrap, topic, [b"{broken", b'{"no": "id"}'])
        deadline = time.monotonic() + 90
        samples: dict[str, float] = {}
        while time.monotonic() < deadline:
            try:
                samples = scrape(port)
            except OSError:
                samples = {}
            if samples.get("evalstream_traces_scored_total", 0) >= 300:
                break
            time.sleep(0.5)
        assert samples.get("evalstream_traces_scored_total") == 300, log.read_text()[-2000:]
        assert samples["evalstream_messages_consumed_total"] == 302
        assert samples['evalstream_dead_letters_total{reason="invalid_json"}'] == 1
        assert samples['evalstream_dead_letters_total{reason="validation"}'] == 1
        assert samples['evalstream_evaluator_latency_seconds_count{evaluator="latency"}'] == 300
        assert f'evalstream_consumer_lag{{partition="0",topic="{topic}"}}' in samples

        worker.send_signal(signal.SIGTERM)  # no --stop-when-idle: a deployment's stop
        assert worker.wait(timeout=60) == 0, log.read_text()[-2000:]
    finally:
        worker.kill()
    # What the stopped worker committed stays; what it had not written yet (scored traces
    # still on their way to Parquet) a restarted worker finishes, without doubling anything.
    run_worker(env)
    frame = pd.read_parquet(tmp_path / "pq")
    assert frame["trace_id"].nunique() == 300
    assert not frame.duplicated(["trace_id", "evaluator", "span_id"]).any()
    scored = consume_all(kafka_bootstrap, f"{topic}.scored", isolation_level="read_committed")
    assert len(scored) == 300


def test_expected_noise_filter_drops_only_known_lines():
    import logging

    from pipeline.worker.app import COMMIT_TIMER
    from pipeline.worker.log_noise import ExpectedNoise

    def record(name: str, msg: str, *args) -> logging.LogRecord:
        return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, None)

    noise = ExpectedNoise(COMMIT_TIMER)
    overlap = "Timer %s is overlapping (interval=%r runtime=%r)"
    assert not noise.filter(record("mode.timers", overlap, COMMIT_TIMER, 0.25, 0.4))
    assert noise.filter(record("mode.timers", overlap, "some_user_timer", 1.0, 2.0))
    coordinator = "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    assert not noise.filter(record("aiokafka.consumer.group_coordinator", coordinator))
    assert noise.filter(record("aiokafka.consumer.group_coordinator", "Heartbeat failed"))
