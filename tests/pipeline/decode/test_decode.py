"""Untrusted bytes -> Trace or DecodeError, never anything else."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.decode.dead_letter import dead_letter_for
from pipeline.decode.trace import DecodeError, decode_trace


def test_valid_trace_decodes_and_keeps_unknown_fields():
    trace = decode_trace(b'{"trace_id": "t1", "latency_ms": 12.5, "custom": {"a": 1}}', 1_000)
    assert trace.trace_id == "t1"
    assert trace.latency_ms == 12.5
    assert trace.model_dump()["custom"] == {"a": 1}


def test_missing_timestamp_takes_the_kafka_record_time():
    trace = decode_trace(b'{"trace_id": "t1"}', 1_764_000_000_000)
    assert trace.timestamp.isoformat() == "2025-11-24T16:00:00+00:00"


@pytest.mark.parametrize(
    ("raw", "kind", "fragment"),
    [
        (None, "empty", "empty"),
        (b"", "empty", "empty"),
        (b"{not json", "invalid_json", "JSON"),
        (b"\xff\xfe", "invalid_utf8", "UTF-8"),
        (b"[1, 2]", "not_an_object", "list"),
        (b"null", "not_an_object", "NoneType"),
        (b'{"inputs": "x"}', "validation", "trace_id: Field required"),
        (b'{"trace_id": 5}', "validation", "trace_id"),
        (b'{"trace_id": "a", "timestamp": "yesterday"}', "validation", "timestamp"),
        (b'{"trace_id": "a", "status": "MAYBE"}', "validation", "status"),
        (b'{"trace_id": "a", "tags": {"app": 3}}', "validation", "tags.app"),
        (b'{"trace_id": "a\\u0000b", "latency_ms": -1}', "validation", "latency_ms"),
        (b"[" * 5000 + b"]" * 5000, "invalid_json", "JSON"),
    ],
)
def test_bad_input_raises_decode_error_with_reason(raw, kind, fragment):
    with pytest.raises(DecodeError) as caught:
        decode_trace(raw, 0)
    assert caught.value.error_type == kind
    assert fragment in caught.value.reason


def test_reason_is_bounded_for_huge_inputs():
    raw = orjson.dumps({"trace_id": 1, "tags": {f"k{i}": i for i in range(5000)}})
    with pytest.raises(DecodeError) as caught:
        decode_trace(raw, 0)
    assert len(caught.value.reason) <= 500
    assert "more" in caught.value.reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_escape_as_another_exception(raw):
    try:
        decode_trace(raw, 0)
    except DecodeError as error:
        record = dead_letter_for(error, raw, b"k", topic="t", partition=0, offset=7)
        assert record.raw_size == len(raw)
        assert record.reason


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "trace_id",
                "timestamp",
                "inputs",
                "outputs",
                "context",
                "expectations",
                "status",
                "error",
                "latency_ms",
                "model",
                "usage",
                "cost_usd",
                "tags",
                "spans",
            ]
        ),
        json_values,
    )
)
def test_arbitrary_json_objects_decode_or_fail_cleanly(obj):
    try:
        trace = decode_trace(orjson.dumps(obj), 0)
    except DecodeError:
        return
    assert trace.trace_id == obj["trace_id"]
