from __future__ import annotations

import base64

import orjson
import pytest

from pipeline.ingest import IngestError, decode_otlp_json, decode_otlp_proto, spans_to_trace
from schemas.trace import Trace


def _attr(key, value):
    return {"key": key, "value": value}


def _request(spans, resource=None):
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource or []},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }


def test_reference_trace(load):
    spans = decode_otlp_json(load("otlp_json_reference/trace.json"))
    assert spans == [
        {
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "span_id": "eee19b7ec3c1b174",
            "parent_span_id": "eee19b7ec3c1b173",
            "name": "I'm a server span",
            "kind": "SERVER",
            "start_ns": 1544712660000000000,
            "end_ns": 1544712661000000000,
            "status_code": "UNSET",
            "status_message": None,
            "attributes": {"my.span.attr": "some value"},
            "events": [],
            "resource": {"service.name": "my.service"},
        }
    ]
    trace = spans_to_trace(spans)  # parent not in the set: the span is the root
    Trace.model_validate(trace)
    assert trace["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert trace["latency_ms"] == 1000.0
    assert trace["timestamp"] == "2018-12-13T14:51:00+00:00"
    assert trace["tags"] == {"app": "my.service"}
    assert trace["status"] == "OK"
    assert trace["inputs"] is None and trace["outputs"] is None


def test_mlflow_capture_json_and_protobuf_agree(load, traces_dir):
    pytest.importorskip("opentelemetry.proto")
    from_json = decode_otlp_json(load("mlflow_otlp/support-bot-4-traces.json"))
    body = (traces_dir / "mlflow_otlp/support-bot-4-traces.pb").read_bytes()
    from_proto = decode_otlp_proto(body)
    assert from_proto == from_json
    assert len(from_json) == 14
    assert len({s["trace_id"] for s in from_json}) == 4
    failing = [s for s in from_json if s["status_code"] == "ERROR"]
    assert [(s["name"], s["span_id"]) for s in failing] == [("lookup_order", "141e7f715f9609fd")]
    assert failing[0]["status_message"] == "ValueError: order service unavailable"
    assert failing[0]["events"][0]["name"] == "exception"
    assert failing[0]["events"][0]["attributes"]["exception.type"] == "ValueError"
    assert from_json[0]["resource"]["service.name"] == "support-bot"
    assert from_json[0]["trace_id"] == "14a08914197a14feae3e1629a61f1352"  # base64 -> hex


def test_every_any_value_kind():
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "parentSpanId": "",
        "name": "values",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        "status": {"code": 2, "message": "boom"},
        "attributes": [
            _attr("s", {"stringValue": "x"}),
            _attr("i", {"intValue": "42"}),
            _attr("d", {"doubleValue": 0.5}),
            _attr("b", {"boolValue": False}),
            _attr("a", {"arrayValue": {"values": [{"stringValue": "p"}, {"intValue": 7}]}}),
            _attr("kv", {"kvlistValue": {"values": [_attr("k", {"stringValue": "v"})]}}),
        ],
        "events": [
            {
                "timeUnixNano": "1700000000100000000",
                "name": "exception",
                "attributes": [_attr("exception.message", {"stringValue": "bad"})],
            }
        ],
    }
    [out] = decode_otlp_json(orjson.dumps(_request([span])))
    assert out["attributes"] == {
        "s": "x",
        "i": 42,
        "d": 0.5,
        "b": False,
        "a": ["p", 7],
        "kv": {"k": "v"},
    }
    assert out["parent_span_id"] is None
    assert out["kind"] == "CLIENT"
    assert out["status_code"] == "ERROR" and out["status_message"] == "boom"
    assert out["events"] == [
        {
            "name": "exception",
            "time_ns": 1700000000100000000,
            "attributes": {"exception.message": "bad"},
        }
    ]


def test_protobuf_json_mapping_names_and_base64_ids():
    trace_id = bytes(range(16))
    span = {
        "trace_id": base64.b64encode(trace_id).decode(),
        "span_id": base64.b64encode(bytes(range(8))).decode(),
        "name": "snake",
        "kind": "SPAN_KIND_INTERNAL",
        "start_time_unix_nano": "10",
        "end_time_unix_nano": "20",
        "status": {"code": "STATUS_CODE_OK"},
        "attributes": [{"key": "n", "value": {"int_value": "3"}}],
    }
    [out] = decode_otlp_json({"resource_spans": [{"scope_spans": [{"spans": [span]}]}]})
    assert out["trace_id"] == trace_id.hex()
    assert out["span_id"] == "0001020304050607"
    assert (out["kind"], out["status_code"], out["start_ns"], out["end_ns"]) == (
        "INTERNAL",
        "OK",
        10,
        20,
    )
    assert out["attributes"] == {"n": 3}


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"spans": []}'])
def test_bad_payloads_raise_ingest_error(payload):
    with pytest.raises(IngestError, match="OTLP/JSON"):
        decode_otlp_json(payload)


def test_bad_protobuf_raises_ingest_error():
    pytest.importorskip("opentelemetry.proto")
    with pytest.raises(IngestError, match="protobuf"):
        decode_otlp_proto(b"\xff\xff\xff")
