"""Kafka goes away under a receiver while OTel SDK exporters (HTTP and gRPC) keep exporting.

Issue 18.2: during the outage the receiver refuses within ~2 s (503 + Retry-After /
UNAVAILABLE + RetryInfo) instead of after a 30 s send timeout, /ready says Kafka is
unreachable, it accepts again once Kafka is back, and every span an exporter was told is
exported (SUCCESS) is in the spans topic, none twice.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from pathlib import Path

import grpc
import httpx
import pytest
from kafka_helpers import consume_all
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline" / "ingest" / "apps"))
from receiver_process import receiver_env, start_receiver, stop_receiver

from pipeline.ingest import decode_otlp_proto
from pipeline.kafka.broker.local import free_port, start_broker, stop_broker

OUTAGE_SECONDS = 15
LOG_INTERVAL = 5  # EVALSTREAM_OUTAGE_LOG_INTERVAL: several intervals within the outage


class ExportingApp(threading.Thread):
    """An app exporting 4-span batches back to back through one real OTel exporter."""

    def __init__(self, exporter, name: str) -> None:
        super().__init__(daemon=True, name=name)
        self.exporter = exporter
        self.memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = provider.get_tracer(name)
        self.exported: list[str] = []  # span ids of batches the exporter reported SUCCESS
        self.failed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            with self.tracer.start_as_current_span(f"{self.name}-root"):
                for _ in range(3):
                    with self.tracer.start_as_current_span(f"{self.name}-child"):
                        pass
            batch = list(self.memory.get_finished_spans())
            self.memory.clear()
            if self.exporter.export(batch) is SpanExportResult.SUCCESS:
                self.exported.extend(format(s.context.span_id, "016x") for s in batch)
            else:
                self.failed += 1
            time.sleep(0.05)


def _wait_health(url: str, status: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/ready", timeout=5)
            if answer.status_code == status:
                return answer.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"/ready never answered {status} within {timeout}s")


def _assert_outage_lines_are_few(output: str, outage: float) -> None:
    """Between the receiver's own two lines, aiokafka's repeats come once per interval with
    their count (before: ~13 lines a second, 320 in a 25 s outage)."""
    lines = output.splitlines()
    down = next(i for i, line in enumerate(lines) if "Kafka unreachable" in line)
    up = next(i for i, line in enumerate(lines) if "Kafka reachable again" in line)
    during = lines[down + 1 : up]
    print(f"\n{len(during)} receiver lines in a {outage:.0f} s outage:", *during, sep="\n")
    summaries = [line for line in during if "repeated lines held back" in line]
    assert summaries, during
    # the first line of each kind (a few), then one line per interval
    assert len(during) <= outage / LOG_INTERVAL + 6, during


@pytest.mark.slow
def test_receiver_refuses_fast_during_a_kafka_outage_and_loses_nothing(tmp_path):
    handle = start_broker(port=free_port(), data_dir=tmp_path / "kafka")
    topic = "outage_spans"
    env = receiver_env(
        handle.bootstrap,
        topic,
        free_port(),
        EVALSTREAM_TOPIC_PARTITIONS="2",
        EVALSTREAM_OUTAGE_LOG_INTERVAL=str(LOG_INTERVAL),
    )
    receiver = start_receiver(env)
    url = f"http://127.0.0.1:{env['EVALSTREAM_RECEIVER_PORT']}"
    grpc_address = f"127.0.0.1:{env['EVALSTREAM_RECEIVER_GRPC_PORT']}"
    apps = [
        ExportingApp(HttpExporter(endpoint=f"{url}/v1/traces", timeout=10), "http"),
        ExportingApp(GrpcExporter(endpoint=grpc_address, insecure=True, timeout=10), "grpc"),
    ]
    try:
        for app in apps:
            app.start()
        time.sleep(3)
        before = {app.name: len(app.exported) for app in apps}
        stop_broker(handle)
        outage_started = time.monotonic()
        time.sleep(2)

        started = time.monotonic()
        refused = httpx.post(
            f"{url}/v1/traces", content=b"{}", headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 503 and time.monotonic() - started < 3
        assert refused.headers["Retry-After"] == "2"
        ready = _wait_health(url, 503, 10)
        assert ready["kafka"] == "unreachable"
        with grpc.insecure_channel(grpc_address) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as failure:
                stub.Export(ExportTraceServiceRequest(), timeout=10)
            assert failure.value.code() is grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() - started < 3
            trailer = dict(failure.value.trailing_metadata())
            assert "google.rpc.retryinfo-bin" in trailer

        time.sleep(OUTAGE_SECONDS)
        handle = start_broker(port=handle.port, data_dir=handle.data_dir)
        assert _wait_health(url, 200, 60)["kafka"] == "reachable"
        outage = time.monotonic() - outage_started
        during = {app.name: len(app.exported) for app in apps}
        time.sleep(8)
    finally:
        for app in apps:
            app.stop.set()
        for app in apps:
            app.join(timeout=30)
            app.exporter.shutdown()
        code, stderr = stop_receiver(receiver)
    try:
        assert code == 0, stderr[-3000:]
        assert "Traceback" not in stderr, stderr[-3000:]
        _assert_outage_lines_are_few(stderr, outage)
        for app in apps:
            assert before[app.name] > 0 and app.failed > 0
            assert len(app.exported) > during[app.name], f"{app.name}: nothing accepted after"
        records = consume_all(handle.bootstrap, topic, timeout=30)
        in_topic = Counter(
            span["span_id"] for record in records for span in decode_otlp_proto(record.value)
        )
        exported = [span for app in apps for span in app.exported]
        missing = set(exported) - set(in_topic)
        assert not missing, f"{len(missing)} of {len(exported)} exported spans not in the topic"
        twice = {span: n for span, n in in_topic.items() if n > 1}
        assert not twice, f"{len(twice)} spans written more than once"
    finally:
        stop_broker(handle)
