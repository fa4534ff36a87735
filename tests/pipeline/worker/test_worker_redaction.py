"""With EVALSTREAM_REDACT set, no PII reaches anything the worker writes: the scored topic,
Parquet (results, traces and spans), the metrics topic, the DLQ (its own and the span
assembler's dead letters) and the OTel result export. One real worker run against a real broker
and a real HTTP endpoint."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pandas as pd
import pytest
from kafka_helpers import consume_all, produce
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from worker_process import run_worker, worker_env

EMAIL, PHONE = "jane.doe@example.com", "+1 (415) 555-2671"
CARD, API_KEY = "4111 1111 1111 1111", "sk-" + "aB3" * 16
PLANTED = f"write to {EMAIL}, card {CARD}, key {API_KEY}"
SECRETS = ("jane.doe", "555-2671", CARD, API_KEY)


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture
def otlp_endpoint():
    """A real OTLP/HTTP endpoint that keeps every request body."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield bodies, f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    server.shutdown()
    server.server_close()


def test_redaction_covers_every_output(kafka_bootstrap, new_topic, tmp_path, otlp_endpoint):
    bodies, endpoint = otlp_endpoint
    topic, spans = new_topic(), new_topic()
    traces = [
        {
            "trace_id": f"pii-{i}",
            "inputs": {"question": f"My email is {EMAIL}, what is my plan?"},
            "outputs": f"Hello, we will call you at {PHONE} or {PLANTED}.",
            "context": [f"Customer {EMAIL} is on the Pro plan."],
            "status": "ERROR" if i % 2 else "OK",
            "error": f"upstream refused {PLANTED}" if i % 2 else None,
            "latency_ms": 100,
            "tags": {"app": f"bot {EMAIL}" if i == 0 else "bot", "user": PLANTED},
            "spans": [
                {
                    "span_id": f"s{i}",
                    "name": f"mail {EMAIL}",
                    "inputs": PLANTED,
                    "outputs": {"reply": PLANTED},
                    "attributes": {"to": EMAIL},
                }
            ],
        }
        for i in range(20)
    ]
    bad = f'{{"inputs": "no id, but {PLANTED}"'.encode()
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in traces] + [bad])
    produce(kafka_bootstrap, spans, [f'{{"resourceSpans": "{PLANTED}"'.encode()])
    config = tmp_path / "two.toml"
    config.write_text("[evaluators.latency]\n[evaluators.error]\n")
    env = worker_env(
        kafka_bootstrap,
        topic,
        tmp_path / "pq",
        EVALSTREAM_REDACT="all",
        EVALSTREAM_REDACT_PATTERNS='{"plan": "Pro plan"}',
        EVALSTREAM_CONFIG=str(config),
        EVALSTREAM_SPANS_TOPIC=spans,
        EVALSTREAM_OTEL_RESULTS_ENDPOINT=endpoint,
    )
    run_worker(env)

    scored = b"".join(r.value for r in consume_all(kafka_bootstrap, f"{topic}.scored"))
    windows = consume_all(kafka_bootstrap, f"{topic}.metrics")
    window_text = b"".join(r.key + r.value for r in windows).decode()
    letters = [orjson.loads(r.value) for r in consume_all(kafka_bootstrap, f"{topic}.dlq")]
    dead_raw = {
        letter["source_topic"]: base64.b64decode(letter["raw_base64"]).decode()
        for letter in letters
    }
    frame = pd.read_parquet(tmp_path / "pq")
    stored = [pd.read_parquet(tmp_path / name) for name in ("traces", "spans")]
    assert [len(f) for f in stored] == [20, 20]
    assert sorted(stored[1].span_id) == sorted(f"s{i}" for i in range(20))  # ids kept
    parquet_text = "".join(f.astype(str).to_csv() for f in (frame, *stored))
    otel_text = b"".join(bodies).decode("utf-8", "replace")
    assert scored.count(b'"trace_id"') == 20 and set(dead_raw) == {topic, spans}
    requests = [ExportTraceServiceRequest.FromString(body) for body in bodies]
    spans_sent = [
        s for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
    ]
    assert len(spans_sent) == 40  # 2 evaluators x 20 traces
    for text in (scored.decode(), parquet_text, window_text, *dead_raw.values(), otel_text):
        assert leaked(text) == []
    for text in (scored.decode(), dead_raw[topic], dead_raw[spans], otel_text):
        assert "[REDACTED:email]" in text and "[REDACTED:api_key]" in text
    assert "[REDACTED:email]" in window_text  # the app name of trace 0
    assert "[REDACTED:email]" in parquet_text  # the tag and error columns kept their shape
    assert (frame["status"] == "ERROR").sum() > 0 and frame["trace_id"].nunique() == 20
