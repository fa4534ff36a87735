"""The OTLP/HTTP receiver through a real broker: what it accepts, what it refuses, what it
publishes (one ExportTraceServiceRequest per trace id, keyed by the hex id), and that it
survives every bad request."""

from __future__ import annotations

import gzip
import socket
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest
from kafka_helpers import consume_all
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
import httpx
from receiver_process import receiver_env, start_receiver, stop_receiver

from pipeline.ingest import decode_otlp_json, decode_otlp_proto
from pipeline.ingest.receiver.codec import (
    PROTOBUF,
    encode_for_topic,
    parse_request,
    split_by_trace,
)
from pipeline.kafka.broker import free_port

TOKEN = "t0ps3cret-receiver-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PB = {**AUTH, "Content-Type": "application/x-protobuf"}
JS = {**AUTH, "Content-Type": "application/json"}
MAX_BODY = 200_000
TRACE = "5b8efff798038103d269b633813fc60c"


def _span(name: str, trace_id: str | None, span_id: str) -> dict:
    span = {"name": name, "spanId": span_id, "startTimeUnixNano": "1700000000000000000"}
    if trace_id:
        span["traceId"] = trace_id
    return span


def _otlp_json(*spans: dict) -> bytes:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}
    return orjson.dumps(
        {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": list(spans)}]}]}
    )


@pytest.fixture(scope="module")
def receiver(kafka_bootstrap: str):
    topic = f"spans-{uuid.uuid4().hex[:10]}"
    env = receiver_env(
        kafka_bootstrap,
        topic,
        free_port(),
        EVALSTREAM_RECEIVER_TOKEN=TOKEN,
        EVALSTREAM_RECEIVER_MAX_BODY_BYTES=str(MAX_BODY),
        EVALSTREAM_TOPIC_PARTITIONS="2",
    )
    proc = start_receiver(env, max_inflight=1)
    url = f"http://127.0.0.1:{env['EVALSTREAM_RECEIVER_PORT']}"
    try:
        yield url, topic, kafka_bootstrap
    finally:
        code, stderr = stop_receiver(proc)
        assert code == 0, stderr[-3000:]  # SIGTERM is a graceful stop
        assert TOKEN not in stderr


def _messages(bootstrap: str, topic: str) -> list:
    return consume_all(bootstrap, topic)


def test_protobuf_json_and_gzip_bodies_are_published_one_message_per_trace(receiver, traces_dir):
    url, topic, bootstrap = receiver
    before = len(_messages(bootstrap, topic))
    pb = (traces_dir / "mlflow_otlp/support-bot-4-traces.pb").read_bytes()
    reply = httpx.post(f"{url}/v1/traces", content=pb, headers=PB)
    assert reply.status_code == 200
    assert reply.headers["content-type"] == PROTOBUF
    response = ExportTraceServiceResponse.FromString(reply.content)
    assert not response.HasField("partial_success")

    spec_json = (traces_dir / "otlp_json_reference/trace.json").read_bytes()  # hex ids, int enums
    reply = httpx.post(f"{url}/v1/traces", content=spec_json, headers=JS)
    assert (reply.status_code, reply.json()) == (200, {})

    mapping_json = (traces_dir / "mlflow_otlp/support-bot-4-traces.json").read_bytes()  # base64 ids
    reply = httpx.post(
        f"{url}/v1/traces",
        content=gzip.compress(mapping_json),
        headers={**JS, "Content-Encoding": "gzip"},
    )
    assert reply.status_code == 200

    records = _messages(bootstrap, topic)[before:]
    assert len(records) == 4 + 1 + 4
    spans_seen = 0
    for record in records:
        request = ExportTraceServiceRequest.FromString(record.value)
        ids = {
            span.trace_id.hex()
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        }
        assert ids == {record.key.decode()}
        spans_seen += sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        assert request.resource_spans[0].resource.attributes  # resource kept
    assert spans_seen == 14 + 1 + 14
    assert TRACE in {r.key.decode() for r in records}
    # Same trace, same partition: the assembler's table relies on it.
    by_key: dict[bytes, set[int]] = {}
    for record in records:
        by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in by_key.values())


def test_span_without_trace_id_is_rejected_in_partial_success(receiver):
    url, topic, bootstrap = receiver
    before = len(_messages(bootstrap, topic))
    body = _otlp_json(
        _span("ok", TRACE, "0102030405060708"), _span("bad", None, "0a0b0c0d0e0f0102")
    )
    reply = httpx.post(f"{url}/v1/traces", content=body, headers=JS)
    assert reply.status_code == 200
    partial = reply.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "trace id" in partial["errorMessage"]

    proto = ExportTraceServiceRequest()
    proto.resource_spans.add().scope_spans.add().spans.add(name="no-ids")
    reply = httpx.post(f"{url}/v1/traces", content=proto.SerializeToString(), headers=PB)
    assert reply.status_code == 200
    assert ExportTraceServiceResponse.FromString(reply.content).partial_success.rejected_spans == 1
    assert len(_messages(bootstrap, topic)) == before + 1  # only the valid span's trace


BAD_REQUESTS = [
    ("malformed protobuf", PB, b"\xff\xff\xff\xff", 400),
    ("malformed JSON", JS, b'{"resourceSpans": [', 400),
    ("JSON array", JS, b"[1, 2]", 400),
    ("JSON with a bad span", JS, b'{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}', 400),
    ("broken gzip", {**JS, "Content-Encoding": "gzip"}, b"\x1f\x8b\x08garbage", 400),
    ("unknown encoding", {**JS, "Content-Encoding": "zstd-x"}, b"{}", 415),
    ("text/plain", {**AUTH, "Content-Type": "text/plain"}, b"{}", 415),
    ("no content type", AUTH, b"{}", 415),
    ("too large", JS, b" " * (MAX_BODY + 1), 413),
    ("gzip bomb", {**JS, "Content-Encoding": "gzip"}, gzip.compress(b" " * 5_000_000), 413),
    ("no token", {"Content-Type": "application/json"}, _otlp_json(), 401),
    ("wrong token", {**JS, "Authorization": "Bearer nope"}, _otlp_json(), 401),
    ("not bearer", {**JS, "Authorization": f"Basic {TOKEN}"}, _otlp_json(), 401),
]


def test_bad_requests_are_refused_and_publish_nothing(receiver):
    url, topic, bootstrap = receiver
    before = len(_messages(bootstrap, topic))
    valid = _otlp_json(_span("ok", TRACE, "1112131415161718"))
    for name, headers, body, status in BAD_REQUESTS:
        reply = httpx.post(f"{url}/v1/traces", content=body, headers=headers)
        assert reply.status_code == status, (name, reply.text)
        if status in (400, 401, 413) and "json" in reply.headers.get("content-type", ""):
            assert reply.json()["message"], name  # a google.rpc.Status body
        if status == 401:
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert httpx.get(f"{url}/health").status_code == 200, f"receiver died after {name}"
    assert len(_messages(bootstrap, topic)) == before
    assert httpx.post(f"{url}/v1/traces", content=valid, headers=JS).status_code == 200


def test_error_body_matches_protobuf_requests(receiver):
    url, _, _ = receiver
    reply = httpx.post(f"{url}/v1/traces", content=b"\xff\xff", headers=PB)
    assert reply.status_code == 400
    assert reply.headers["content-type"] == PROTOBUF
    assert reply.content[:2] == b"\x08\x03"  # google.rpc.Status code = INVALID_ARGUMENT


def test_413_is_answered_from_content_length_before_the_body(receiver):
    url, _, _ = receiver
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {10 * MAX_BODY}\r\n\r\n".encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")


def test_busy_receiver_answers_429_with_retry_after(receiver):
    """The fixture allows one request in flight: a stalled upload makes the next one wait."""
    url, _, _ = receiver
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{".encode()
        )
        time.sleep(0.3)
        reply = httpx.post(f"{url}/v1/traces", content=_otlp_json(), headers=JS)
        assert reply.status_code == 429
        assert int(reply.headers["Retry-After"]) > 0
    time.sleep(0.3)
    assert httpx.post(f"{url}/v1/traces", content=_otlp_json(), headers=JS).status_code == 200


def test_otlp_json_topic_encoding_is_what_the_collector_writes(traces_dir):
    body = (traces_dir / "mlflow_otlp/support-bot-4-traces.pb").read_bytes()
    request = parse_request(body, PROTOBUF)
    for message in split_by_trace(request).traces.values():
        as_json = encode_for_topic(message, "otlp_json")
        data = orjson.loads(as_json)
        span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16  # hex, not base64
        assert isinstance(span["kind"], int)
        assert decode_otlp_json(as_json) == decode_otlp_proto(message.SerializeToString())
