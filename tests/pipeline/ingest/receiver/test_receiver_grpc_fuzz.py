"""gRPC receiver fuzzing over loopback (issue 16, item 15, with the ingest issue's gRPC port):
random and truncated request bytes, huge metadata, stalled clients. The receiver stays up, its
memory stays bounded, and every answer is a gRPC status from the documented set."""

from __future__ import annotations

import socket
import sys
import time
import uuid
from pathlib import Path

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
from receiver_process import receiver_env, start_receiver, stop_receiver
from test_receiver_fuzz import rss_kib

from pipeline.kafka.broker import free_port

TOKEN = "grpc-fuzz-token-" + uuid.uuid4().hex[:8]
MAX_BODY = 100_000
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
ANSWERS = {  # docs/ingest.md, the gRPC column
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
}


def _valid() -> bytes:
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    span = scope.spans.add(name="root", trace_id=b"\x5b" * 16, span_id=b"\x11" * 8)
    span.start_time_unix_nano, span.end_time_unix_nano = 1, 2
    return request.SerializeToString()


VALID = _valid()


@pytest.fixture(scope="module")
def receiver(kafka_bootstrap):
    env = receiver_env(
        kafka_bootstrap,
        f"grpc-fuzz-{uuid.uuid4().hex[:8]}",
        free_port(),
        EVALSTREAM_RECEIVER_TOKEN=TOKEN,
        EVALSTREAM_RECEIVER_MAX_BODY_BYTES=str(MAX_BODY),
    )
    proc = start_receiver(env, max_inflight=8)
    address = f"127.0.0.1:{env['EVALSTREAM_RECEIVER_GRPC_PORT']}"
    channel = grpc.insecure_channel(address)
    export = channel.unary_unary(EXPORT)  # bytes in, bytes out: no client-side checks
    try:
        yield export, proc, address
    finally:
        channel.close()
        code, stderr = stop_receiver(proc)
        assert code == 0, stderr[-3000:]


def _call(export, body: bytes, metadata=()) -> grpc.StatusCode:
    try:
        export(body, metadata=metadata, timeout=20)
    except grpc.RpcError as failure:
        return failure.code()
    return grpc.StatusCode.OK


def _alive(export, proc) -> None:
    assert proc.poll() is None, "receiver exited"
    assert _call(export, VALID, (("authorization", f"Bearer {TOKEN}"),)) is grpc.StatusCode.OK


bodies = st.one_of(
    st.binary(max_size=4096),
    st.integers(0, len(VALID)).map(lambda n: VALID[:n]),  # truncated protobuf
    st.binary(min_size=1, max_size=64).map(lambda b: VALID + b),  # trailing garbage
    st.just(b"\x0a\xff\xff\xff\xff\x0f"),  # a length prefix far past the end
    st.just(VALID),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, auth=st.booleans())
def test_random_and_truncated_requests_get_proper_statuses(receiver, body, auth):
    export, _, _ = receiver
    metadata = (("authorization", f"Bearer {TOKEN}"),) if auth else ()
    code = _call(export, body, metadata)
    assert code in ANSWERS, code
    if not auth:
        assert code is grpc.StatusCode.UNAUTHENTICATED


def test_undecodable_bytes_are_invalid_argument_not_internal(receiver):
    export, proc, _ = receiver
    metadata = (("authorization", f"Bearer {TOKEN}"),)
    assert _call(export, b"\xff\xff\xff\xff", metadata) is grpc.StatusCode.INVALID_ARGUMENT
    assert _call(export, VALID[:-3], metadata) is grpc.StatusCode.INVALID_ARGUMENT
    _alive(export, proc)


def test_huge_metadata_and_oversized_requests_are_refused(receiver):
    export, proc, _ = receiver
    codes = []
    for size in (10_000, 100_000, 1_000_000):
        code = _call(export, VALID, (("authorization", f"Bearer {TOKEN}"), ("x-big", "a" * size)))
        codes.append(code)
        _alive(export, proc)
    # gRPC's metadata limit (8 KiB soft, 16 KiB hard by default) refuses, never crashes.
    assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}, codes
    assert codes[-1] is grpc.StatusCode.RESOURCE_EXHAUSTED, codes
    big = b"\x0a" + bytes([0x80 | 0x7F, 0x7F]) + b"x" * (2 * MAX_BODY)
    assert _call(export, big, (("authorization", f"Bearer {TOKEN}"),)) is (
        grpc.StatusCode.RESOURCE_EXHAUSTED
    )
    _alive(export, proc)


def test_stalled_clients_do_not_take_the_grpc_port_down(receiver):
    export, proc, address = receiver
    host, port = address.split(":")
    before = rss_kib(proc.pid)
    stalled = []
    for i in range(40):  # the HTTP/2 preface then nothing, or half a preface
        sock = socket.create_connection((host, int(port)), timeout=10)
        preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        sock.sendall(preface if i % 2 else preface[:9])
        stalled.append(sock)
    time.sleep(0.5)
    _alive(export, proc)
    for sock in stalled:
        sock.close()
    for _ in range(50):
        _alive(export, proc)
    assert rss_kib(proc.pid) - before < 64 * 1024  # bounded: well under 64 MiB growth
