"""Receiver fuzzing over loopback (issue 16, item 15): random and truncated bodies, huge
headers, slow clients. The receiver stays up, its memory stays bounded, and every answer is
a proper HTTP status from the documented set (never a 5xx, never a dropped connection for a
well-formed HTTP request)."""

from __future__ import annotations

import gzip
import socket
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps"))
from receiver_process import receiver_env, start_receiver, stop_receiver

from pipeline.kafka.broker import free_port

TOKEN = "fuzz-receiver-token-123"
MAX_BODY = 100_000
ANSWERS = {200, 400, 401, 413, 415, 429}  # docs/ingest.md
VALID = orjson.dumps(
    {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "1112131415161718",
                                "name": "root",
                                "startTimeUnixNano": "1700000000000000000",
                            }
                        ]
                    }
                ]
            }
        ]
    }
)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def receiver(kafka_bootstrap):
    env = receiver_env(
        kafka_bootstrap,
        f"fuzz-{uuid.uuid4().hex[:8]}",
        free_port(),
        EVALSTREAM_RECEIVER_TOKEN=TOKEN,
        EVALSTREAM_RECEIVER_MAX_BODY_BYTES=str(MAX_BODY),
    )
    proc = start_receiver(env, max_inflight=8)
    url = f"http://127.0.0.1:{env['EVALSTREAM_RECEIVER_PORT']}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield client, proc
    finally:
        code, stderr = stop_receiver(proc)
        assert code == 0, stderr[-3000:]


def assert_alive(client: httpx.Client, proc) -> None:
    assert proc.poll() is None, "receiver exited"
    assert client.get("/health").status_code == 200


content_types = st.sampled_from(
    ["application/json", "application/x-protobuf", "text/plain", "", "application/json; x=\x7f"]
)
encodings = st.sampled_from(["", "identity", "gzip", "deflate", "br", "GZIP"])
bodies = st.one_of(
    st.binary(max_size=4096),
    st.integers(0, len(VALID)).map(lambda n: VALID[:n]),  # truncated JSON
    st.integers(0, 60).map(lambda n: gzip.compress(VALID)[:n]),  # truncated gzip
    st.just(gzip.compress(b"\0" * (4 * MAX_BODY))),  # expands past the limit
    st.just(VALID),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies, kind=content_types, encoding=encodings, auth=st.booleans())
def test_random_and_truncated_bodies_get_proper_answers(receiver, body, kind, encoding, auth):
    client, _ = receiver
    headers = {"Content-Type": kind, "Content-Encoding": encoding}
    if auth:
        headers["Authorization"] = f"Bearer {TOKEN}"
    reply = client.post("/v1/traces", content=body, headers=headers)
    assert reply.status_code in ANSWERS, (reply.status_code, reply.text[:200])


def test_huge_headers_are_refused_and_the_receiver_stays_up(receiver):
    client, proc = receiver
    for size in (10_000, 100_000, 1_000_000):
        try:
            reply = client.post("/v1/traces", content=VALID, headers={"X-Big": "a" * size})
            assert 400 <= reply.status_code < 500, reply.status_code
        except httpx.RemoteProtocolError:
            pass  # the server may close a connection whose headers exceed its limit
        assert_alive(client, proc)


def test_slow_clients_do_not_take_the_receiver_down(receiver):
    client, proc = receiver
    host, port = str(client.base_url).removeprefix("http://").rstrip("/").split(":")
    before = rss_kib(proc.pid)
    slow = []
    for i in range(40):  # stalled mid-headers, and stalled mid-body
        sock = socket.create_connection((host, int(port)), timeout=10)
        head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        if i % 2:
            head += f"Authorization: Bearer {TOKEN}\r\nContent-Length: 5000\r\n\r\n{{".encode()
        sock.sendall(head)
        slow.append(sock)
    time.sleep(0.5)
    reply = client.post(
        "/v1/traces",
        content=VALID,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    assert reply.status_code in (200, 429)
    assert_alive(client, proc)
    for sock in slow:
        sock.close()
    time.sleep(0.5)
    reply = client.post(
        "/v1/traces",
        content=VALID,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    assert reply.status_code == 200
    assert rss_kib(proc.pid) - before < 64 * 1024  # bounded: well under 64 MiB growth
