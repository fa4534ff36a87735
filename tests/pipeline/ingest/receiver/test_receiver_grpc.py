"""The OTLP/gRPC endpoint through the real OTel gRPC exporter, a real receiver and broker:
what it publishes, how it refuses (status codes, RetryInfo), partial_success, the shared
credentials, and the one-line notice when gRPC reaches the HTTP port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
from kafka_helpers import consume_all
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
from receiver_process import ROOT, receiver_env, start_receiver, stop_receiver

from pipeline.ingest import decode_otlp_proto
from pipeline.kafka.broker.local import free_port

TOKEN = "grpc-token-" + uuid.uuid4().hex[:8]
MAX_BODY = 100_000


@pytest.fixture(scope="module")
def receiver(kafka_bootstrap: str):
    topic = f"spans-grpc-{uuid.uuid4().hex[:8]}"
    env = receiver_env(
        kafka_bootstrap,
        topic,
        free_port(),
        EVALSTREAM_RECEIVER_TOKEN=TOKEN,
        EVALSTREAM_RECEIVER_AUTH_HEADER="api_key=12345",
        EVALSTREAM_RECEIVER_MAX_BODY_BYTES=str(MAX_BODY),
        EVALSTREAM_TOPIC_PARTITIONS="2",
    )
    proc = start_receiver(env)
    try:
        yield env, topic
    finally:
        code, stderr = stop_receiver(proc)
        assert code == 0, stderr[-3000:]
        assert TOKEN not in stderr and "12345" not in stderr


def _finished_spans(count: int, service: str = "grpc-app") -> list:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for i in range(count):
        with tracer.start_as_current_span("agent") as root:
            root.set_attribute("input.value", f"question {i}")
            with tracer.start_as_current_span("llm"):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def _grpc_address(env: dict[str, str]) -> str:
    return f"127.0.0.1:{env['EVALSTREAM_RECEIVER_GRPC_PORT']}"


@pytest.mark.parametrize("headers", [{"authorization": f"Bearer {TOKEN}"}, {"api_key": "12345"}])
def test_real_grpc_exporter_publishes_acknowledged_spans(receiver, kafka_bootstrap, headers):
    env, topic = receiver
    spans = _finished_spans(3)
    exporter = OTLPSpanExporter(
        endpoint=f"http://{_grpc_address(env)}", insecure=True, headers=headers,
        compression=grpc.Compression.Gzip,
    )  # fmt: skip
    try:
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    wanted = {format(s.context.trace_id, "032x") for s in spans}
    records = [r for r in consume_all(kafka_bootstrap, topic) if r.key.decode() in wanted]
    assert {r.key.decode() for r in records} == wanted  # one message per trace, keyed by id
    decoded = [span for r in records for span in decode_otlp_proto(r.value)]
    names = sorted(span["name"] for span in decoded)
    assert names == ["agent"] * 3 + ["llm"] * 3


def test_wrong_credentials_are_unauthenticated(receiver):
    env, _ = receiver
    with grpc.insecure_channel(_grpc_address(env)) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        for metadata in [(), (("api_key", "nope"),), (("authorization", "Bearer nope"),)]:
            with pytest.raises(grpc.RpcError) as failure:
                stub.Export(ExportTraceServiceRequest(), metadata=metadata, timeout=10)
            assert failure.value.code() is grpc.StatusCode.UNAUTHENTICATED
            assert "12345" not in failure.value.details()


def test_spans_without_ids_are_a_partial_success(receiver, kafka_bootstrap):
    env, topic = receiver
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    good = scope.spans.add(name="good", trace_id=uuid.uuid4().bytes, span_id=b"\x01" * 8)
    scope.spans.add(name="no-trace-id", span_id=b"\x02" * 8)
    with grpc.insecure_channel(_grpc_address(env)) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        response = stub.Export(request, metadata=(("api_key", "12345"),), timeout=10)
    assert response.partial_success.rejected_spans == 1
    assert "no-trace-id" in response.partial_success.error_message
    keys = {r.key.decode() for r in consume_all(kafka_bootstrap, topic)}
    assert good.trace_id.hex() in keys


def test_a_request_over_the_size_limit_is_refused(receiver):
    env, _ = receiver
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.add(name="x" * (MAX_BODY + 10), trace_id=b"\x03" * 16, span_id=b"\x03" * 8)
    with grpc.insecure_channel(_grpc_address(env)) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as failure:
            stub.Export(request, metadata=(("api_key", "12345"),), timeout=10)
    assert failure.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_busy_receiver_answers_resource_exhausted_with_retry_info(kafka_bootstrap, new_topic):
    """One request allowed in flight, held by a stalled HTTP upload (the limit is shared by
    both protocols): gRPC gets RESOURCE_EXHAUSTED + RetryInfo, which exporters retry, then OK
    once the slot is free. The stalled client closing mid-body is a 400, not a traceback
    (aiohttp's ConnectionResetError was logged with one before)."""
    env = receiver_env(kafka_bootstrap, new_topic(), free_port())
    proc = start_receiver(env, max_inflight=1)
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.add(name="busy", trace_id=uuid.uuid4().bytes, span_id=b"\x04" * 8)
    try:
        with grpc.insecure_channel(_grpc_address(env)) as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            address = ("127.0.0.1", int(env["EVALSTREAM_RECEIVER_PORT"]))
            with socket.create_connection(address, timeout=10) as slow:
                slow.sendall(
                    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                    b"\r\nContent-Length: 1000\r\n\r\n{"
                )
                time.sleep(0.5)
                with pytest.raises(grpc.RpcError) as failure:
                    stub.Export(request, timeout=10)
            assert failure.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "google.rpc.retryinfo-bin" in dict(failure.value.trailing_metadata())
            time.sleep(0.5)
            assert stub.Export(request, timeout=10).partial_success.rejected_spans == 0
    finally:
        code, stderr = stop_receiver(proc)
    assert code == 0 and "Traceback" not in stderr, stderr[-3000:]


def test_grpc_on_the_http_port_gets_one_line_naming_the_grpc_port(kafka_bootstrap, new_topic):
    env = receiver_env(kafka_bootstrap, new_topic(), free_port())
    proc = start_receiver(env)
    try:
        exporter = OTLPSpanExporter(
            endpoint=f"http://127.0.0.1:{env['EVALSTREAM_RECEIVER_PORT']}", insecure=True,
            timeout=3,
        )  # fmt: skip
        try:
            assert exporter.export(_finished_spans(1)) is SpanExportResult.FAILURE
        finally:
            exporter.shutdown()
    finally:
        code, stderr = stop_receiver(proc)
    assert code == 0
    notices = [line for line in stderr.splitlines() if "HTTP/2 (gRPC) request" in line]
    assert notices, stderr[-3000:]
    assert f"port {env['EVALSTREAM_RECEIVER_GRPC_PORT']}" in notices[0]
    assert "Traceback" not in stderr, stderr[-3000:]


@pytest.mark.parametrize("flag", ["--http-port", "--grpc-port"])
def test_a_port_in_use_is_one_line_and_exit_2(kafka_bootstrap, new_topic, flag):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = receiver_env(kafka_bootstrap, new_topic(), free_port())
        other = "--grpc-port" if flag == "--http-port" else "--http-port"
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "receiver", flag, str(port), other,
             str(free_port())],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and str(port) in errors[0], done.stderr
    assert time.monotonic() - started < 60


def _cli_receiver(env: dict[str, str], http_port: int, grpc_port: int) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pipeline.cli", "receiver", "--http-port", str(http_port),
               "--grpc-port", str(grpc_port)]  # fmt: skip
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_either_endpoint_can_be_turned_off_with_port_0(kafka_bootstrap, new_topic):
    env = receiver_env(kafka_bootstrap, new_topic(), free_port())
    grpc_port = free_port()
    grpc_only = _cli_receiver(env, 0, grpc_port)
    try:
        banner = grpc_only.stdout.readline()
        assert "OTLP/gRPC" in banner and "OTLP/HTTP" not in banner, banner
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            request = ExportTraceServiceRequest()
            scope = request.resource_spans.add().scope_spans.add()
            scope.spans.add(name="only-grpc", trace_id=uuid.uuid4().bytes, span_id=b"\x05" * 8)
            assert stub.Export(request, timeout=10).partial_success.rejected_spans == 0
    finally:
        grpc_only.terminate()
        _, stderr = grpc_only.communicate(timeout=30)
    assert grpc_only.returncode == 0, stderr[-3000:]

    http_port = free_port()
    http_only = _cli_receiver(env, http_port, 0)
    try:
        banner = http_only.stdout.readline()
        assert "OTLP/HTTP" in banner and "OTLP/gRPC" not in banner, banner
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", http_port), timeout=2) as sock:
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
                break
            except OSError:
                assert time.monotonic() < deadline, "the HTTP endpoint never listened"
                time.sleep(0.3)
    finally:
        http_only.terminate()
        _, stderr = http_only.communicate(timeout=30)
    assert http_only.returncode == 0, stderr[-3000:]

    neither = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "receiver", "--http-port", "0", "--grpc-port", "0"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert neither.returncode == 2 and "Traceback" not in neither.stderr, neither.stderr
    assert len(neither.stderr.strip().splitlines()) == 1, neither.stderr
