"""Issue 18.5 through a real worker and broker: an OTLP result backend that answers 503 to
everything does not hold up the scored topic (inline, each batch waited out the exporter's
60 s retry budget: the scored topic stalled for 18 s+ in the report)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson
from kafka_helpers import consume_all, produce
from worker_process import run_worker, worker_env

from pipeline.tools.demo.samples import sample_traces

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sinks"))
from test_otel_queue import backend


def test_a_503_result_backend_does_not_stall_scoring(kafka_bootstrap, new_topic, tmp_path):
    topic = new_topic(partitions=2)
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in sample_traces(300, seed=5)])
    server = backend(503)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        started = time.monotonic()
        env = worker_env(
            kafka_bootstrap, topic, tmp_path / "pq",
            EVALSTREAM_OTEL_RESULTS_ENDPOINT=url, EVALSTREAM_BATCH_SIZE="50",
        )  # fmt: skip
        run_worker(env, idle=3)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
    scored = consume_all(kafka_bootstrap, f"{topic}.scored", isolation_level="read_committed")
    assert len(scored) == 300
    assert server.posts >= 1  # the export ran, against a backend that refused everything
    assert elapsed < 150, f"worker took {elapsed:.0f} s: scoring waited for the OTLP backend"
