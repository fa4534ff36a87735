"""The OTLP result export never holds up scoring (issue 18.5): against a real HTTP backend
that answers 503 (or 400), ``submit`` returns at once, and what cannot be delivered is counted
in ``evalstream_otel_results_lost_total{reason}``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline import prometheus
from pipeline.evaluate.scorer import ScoredRecord, SourcedTrace
from pipeline.sinks.otel import OtlpResultExporter
from pipeline.sinks.otel_queue import BackgroundOtlpExport
from pipeline.worker.observers import PrometheusObserver
from schemas import EvaluationResult, Trace


def backend(status: int):
    """A real HTTP server answering every POST with ``status`` (and Retry-After: 1)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            server.posts += 1  # before answering: the client may check right after
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.posts = 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def records(n: int) -> list[ScoredRecord]:
    out = []
    for i in range(n):
        trace = Trace(trace_id=f"t-{i}", timestamp=datetime(2026, 1, 5, tzinfo=UTC), outputs="x")
        results = [EvaluationResult(evaluator=e, score=1.0) for e in ("latency", "error")]
        out.append(ScoredRecord(SourcedTrace(trace, "traces", 0, i), results, None))
    return out


COUNTED = partial(PrometheusObserver().on_results_lost, "otel")  # the worker's wiring


def lost(reason: str) -> float:
    return prometheus.OTEL_RESULTS_LOST.labels(reason)._value.get()


@pytest.fixture
def unavailable():
    server = backend(503)
    yield server
    server.shutdown()


def test_a_503_backend_does_not_block_submit_and_losses_are_counted(unavailable):
    url = f"http://127.0.0.1:{unavailable.server_address[1]}/v1/traces"
    exporter = OtlpResultExporter(url, retry_budget=2.5, timeout=2)
    export = BackgroundOtlpExport(exporter, max_batches=1, on_lost=COUNTED)
    full_before, failed_before = lost("queue_full"), lost("failed")
    started = time.monotonic()
    for _ in range(20):
        export.submit(records(5))  # 10 results per batch
    assert time.monotonic() - started < 2  # inline: 20 batches x 2.5 s of retries = 50 s
    dropped = lost("queue_full") - full_before
    assert dropped >= 10 * 17  # at most one batch exporting and one queued
    deadline = time.monotonic() + 40
    while dropped + lost("failed") - failed_before < 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    # every result is accounted for: dropped at submit, or failed after the retry budget
    assert dropped + lost("failed") - failed_before == 200
    assert lost("failed") - failed_before >= 10
    assert unavailable.posts >= 2  # it did retry (Retry-After: 1)
    export.close(timeout=5)


def test_a_4xx_is_counted_as_rejected_without_retries():
    server = backend(400)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        exporter = OtlpResultExporter(url, retry_budget=30)
        export = BackgroundOtlpExport(exporter, max_batches=10, on_lost=COUNTED)
        before = lost("rejected")
        export.submit(records(3))
        export.close(timeout=10)
        assert lost("rejected") - before == 6
        assert server.posts == 1
    finally:
        server.shutdown()
