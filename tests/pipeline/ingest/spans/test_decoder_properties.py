"""Property tests of every span decoder: untrusted bytes end as IngestError or as spans that
assemble into a valid trace, never as another exception (which would kill an agent)."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pipeline.ingest import IngestError, decode_otlp_json, decode_otlp_proto, spans_to_trace
from pipeline.ingest.receiver.codec import JSON, PROTOBUF, parse_request, split_by_trace
from schemas import Trace

pb = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=25,
)
attribute = st.fixed_dictionaries(
    {
        "key": st.text(max_size=30),
        "value": st.dictionaries(
            st.sampled_from(["stringValue", "intValue", "doubleValue", "boolValue", "arrayValue"]),
            json_values,
            max_size=2,
        ),
    }
)
span = st.fixed_dictionaries(
    {},
    optional={
        "traceId": st.text(max_size=40),
        "spanId": st.text(max_size=20),
        "parentSpanId": st.text(max_size=20),
        "name": json_values,
        "startTimeUnixNano": st.one_of(st.text(max_size=25), st.integers(0, 2**63 - 1)),
        "endTimeUnixNano": st.one_of(st.text(max_size=25), st.integers(0, 2**63 - 1)),
        "attributes": st.lists(attribute, max_size=4),
        "status": st.dictionaries(st.sampled_from(["code", "message"]), json_values),
    },
)
otlp_json = st.fixed_dictionaries(
    {
        "resourceSpans": st.lists(
            st.fixed_dictionaries(
                {
                    "scopeSpans": st.lists(
                        st.fixed_dictionaries({"spans": st.lists(span, max_size=4)}), max_size=2
                    )
                }
            ),
            max_size=2,
        )
    }
)


def _assemble(spans: list[dict]) -> None:
    """Spans assemble into a trace, or fail with IngestError or a validation error (the
    assembler dead-letters both; an invalid trace would also be dead-lettered downstream)."""
    if spans:
        with contextlib.suppress(IngestError, ValidationError):
            Trace.model_validate(spans_to_trace(spans))


@FAST
@given(st.binary(max_size=3000))
def test_garbage_protobuf_is_rejected_cleanly(body):
    with contextlib.suppress(IngestError):
        _assemble(decode_otlp_proto(body))
    with contextlib.suppress(IngestError):
        split_by_trace(parse_request(body, PROTOBUF))


@FAST
@given(st.binary(max_size=2000) | json_values.map(orjson.dumps))
def test_garbage_json_is_rejected_cleanly(body):
    for decode in (decode_otlp_json, lambda b: split_by_trace(parse_request(b, JSON))):
        with contextlib.suppress(IngestError):
            decode(body)


@FAST
@given(otlp_json)
def test_structurally_plausible_otlp_json_decodes_or_fails_cleanly(document):
    try:
        spans = decode_otlp_json(orjson.dumps(document))
    except IngestError:
        return
    _assemble(spans)


def test_valid_protobuf_round_trip_still_decodes():
    request = pb.ExportTraceServiceRequest()
    s = request.resource_spans.add().scope_spans.add().spans.add()
    s.trace_id, s.span_id, s.name = bytes(range(16)), bytes(range(8)), "root"
    s.start_time_unix_nano, s.end_time_unix_nano = (
        1_700_000_000_000_000_000,
        1_700_000_001_000_000_000,
    )
    spans = decode_otlp_proto(request.SerializeToString())
    assert [sp["name"] for sp in spans] == ["root"]
    trace = Trace.model_validate(spans_to_trace(spans))
    assert trace.latency_ms == 1000
