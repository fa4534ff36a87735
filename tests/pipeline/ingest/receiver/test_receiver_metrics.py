"""The receiver's Prometheus endpoint counts requests by status code and accepted spans."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import orjson
from prometheus_helpers import scrape

from pipeline.kafka.broker import free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
from receiver_process import receiver_env, start_receiver, stop_receiver


def test_receiver_metrics(kafka_bootstrap, new_topic):
    port, metrics_port = free_port(), free_port()
    env = receiver_env(
        kafka_bootstrap, new_topic(), port, EVALSTREAM_METRICS_PORT=str(metrics_port)
    )
    proc = start_receiver(env)
    try:
        span = {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": "eee19b7ec3c1b174",
            "name": "chat",
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000001000000000",
        }
        body = orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span, {**span,
            "spanId": "eee19b7ec3c1b175"}]}]}]})  # fmt: skip
        url = f"http://127.0.0.1:{port}/v1/traces"
        ok = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        bad = httpx.post(url, content=b"{nope", headers={"Content-Type": "application/json"})
        assert (ok.status_code, bad.status_code) == (200, 400)
        samples = scrape(metrics_port)
        assert samples['evalstream_receiver_requests_total{code="200"}'] == 1
        assert samples['evalstream_receiver_requests_total{code="400"}'] == 1
        assert samples["evalstream_receiver_spans_total"] == 2
    finally:
        stop_receiver(proc)
