"""The input ``Trace`` model: what it accepts, normalises and rejects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from schemas import Expectations, Span, Trace, TraceStatus, Usage
from schemas.trace import TRACE_SCHEMA_VERSION

# 2023-11-14T22:13:20Z, as seconds and milliseconds since the epoch.
EPOCH_S = 1_700_000_000
EXPECTED = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def _error_locs(exc: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [tuple(err["loc"]) for err in exc.value.errors()]


def test_minimal_trace_has_documented_defaults() -> None:
    trace = Trace.model_validate({"trace_id": "t1"})
    assert trace.trace_id == "t1"
    assert trace.schema_version == TRACE_SCHEMA_VERSION == 1
    assert trace.timestamp is None
    assert trace.inputs is None and trace.outputs is None
    assert trace.context is None and trace.expectations is None
    assert trace.status is TraceStatus.OK
    assert trace.error is None and trace.latency_ms is None and trace.model is None
    assert trace.usage is None and trace.cost_usd is None and trace.spans is None
    assert trace.tags == {}
    assert trace.input_tokens is None and trace.output_tokens is None


@pytest.mark.parametrize("payload", [{}, {"trace_id": ""}, {"trace_id": "x" * 257}])
def test_trace_id_is_required_and_bounded(payload: dict) -> None:
    with pytest.raises(ValidationError) as exc:
        Trace.model_validate(payload)
    assert _error_locs(exc) == [("trace_id",)]


def test_unknown_fields_are_kept_and_dumped() -> None:
    trace = Trace.model_validate(
        {"trace_id": "t1", "request_id": "r-9", "extra_obj": {"a": [1, 2]}}
    )
    assert trace.request_id == "r-9"  # type: ignore[attr-defined]
    assert trace.model_extra == {"request_id": "r-9", "extra_obj": {"a": [1, 2]}}
    dumped = trace.model_dump()
    assert dumped["request_id"] == "r-9"
    assert dumped["extra_obj"] == {"a": [1, 2]}
    assert Trace.model_validate_json(trace.model_dump_json()) == trace


def test_unknown_fields_kept_in_nested_models() -> None:
    trace = Trace.model_validate(
        {
            "trace_id": "t1",
            "usage": {"input_tokens": 1, "cached_tokens": 7},
            "expectations": {"expected_response": "Paris", "rubric": "short"},
            "spans": [{"span_id": "s1", "kind": "LLM"}],
        }
    )
    assert trace.usage is not None and trace.usage.model_extra == {"cached_tokens": 7}
    assert trace.expectations is not None
    assert trace.expectations.model_extra == {"rubric": "short"}
    assert trace.spans is not None and trace.spans[0].model_extra == {"kind": "LLM"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-11-14T22:13:20Z", EXPECTED),
        ("2023-11-14T22:13:20.250Z", EXPECTED + timedelta(milliseconds=250)),
        ("2023-11-15T00:13:20+02:00", EXPECTED),
        ("2023-11-14T17:13:20-05:00", EXPECTED),
        ("2023-11-14T22:13:20", EXPECTED),  # naive -> UTC
        ("  2023-11-14T22:13:20Z  ", EXPECTED),
        (EPOCH_S * 1000, EXPECTED),  # epoch ms
        (EPOCH_S * 1000 + 123, EXPECTED + timedelta(milliseconds=123)),
        (EPOCH_S, EXPECTED),  # epoch s
        (float(EPOCH_S) + 0.5, EXPECTED + timedelta(milliseconds=500)),
        (str(EPOCH_S * 1000), EXPECTED),  # numeric string, ms
        (str(EPOCH_S), EXPECTED),  # numeric string, s
        ("1700000000.5", EXPECTED + timedelta(milliseconds=500)),
        (datetime(2023, 11, 14, 22, 13, 20), EXPECTED),  # naive datetime -> UTC
        (datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone(timedelta(hours=1))), EXPECTED),
    ],
)
def test_timestamp_forms(raw: object, expected: datetime) -> None:
    trace = Trace.model_validate({"trace_id": "t1", "timestamp": raw})
    assert trace.timestamp == expected
    assert trace.timestamp is not None and trace.timestamp.utcoffset() == timedelta(0)


def test_naive_timestamp_keeps_wall_clock_as_utc() -> None:
    trace = Trace(trace_id="t1", timestamp="2024-02-29T23:59:59")
    assert trace.timestamp is not None
    assert (trace.timestamp.tzinfo, trace.timestamp.hour) == (UTC, 23)


def test_offset_timestamp_is_converted_to_utc() -> None:
    # Regression: the offset was kept, so the Parquet sink (which formats the timestamp's own
    # wall clock) put this trace in date=2023-11-15/hour=00 instead of 2023-11-14/22.
    trace = Trace(trace_id="t1", timestamp="2023-11-15T00:13:20+02:00")
    assert trace.timestamp is not None
    assert trace.timestamp.tzinfo is UTC
    assert trace.timestamp.strftime("%Y-%m-%d/%H") == "2023-11-14/22"
    assert trace.model_dump(mode="json")["timestamp"] == "2023-11-14T22:13:20Z"


@pytest.mark.parametrize("raw", [True, False])
def test_bool_timestamp_rejected(raw: bool) -> None:
    with pytest.raises(ValidationError) as exc:
        Trace(trace_id="t1", timestamp=raw)
    assert _error_locs(exc) == [("timestamp",)]
    assert "epoch milliseconds" in str(exc.value)


@pytest.mark.parametrize(
    "raw",
    ["yesterday", "2023-13-01T00:00:00Z", "1e400", "", float("nan"), [1, 2], {"s": 1}],
)
def test_garbage_timestamp_rejected(raw: object) -> None:
    with pytest.raises(ValidationError) as exc:
        Trace(trace_id="t1", timestamp=raw)
    assert _error_locs(exc) == [("timestamp",)]


@pytest.mark.parametrize("raw", [1e20, -1e20, float("inf"), 10**30, "9" * 25])
def test_out_of_range_epoch_is_a_validation_error(raw: object) -> None:
    # Regression: these raised OSError/OverflowError, which escape a ValidationError handler.
    with pytest.raises(ValidationError) as exc:
        Trace(trace_id="t1", timestamp=raw)
    assert _error_locs(exc) == [("timestamp",)]
    assert "out of range" in str(exc.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("OK", TraceStatus.OK),
        ("ok", TraceStatus.OK),
        (" ok ", TraceStatus.OK),
        ("Error", TraceStatus.ERROR),
        ("ERROR", TraceStatus.ERROR),
        ("STATUS_CODE_ERROR", TraceStatus.ERROR),
        ("status_code_ok", TraceStatus.OK),
        ("STATUS_CODE_UNSET", TraceStatus.OK),
        ("UNSET", TraceStatus.OK),
        ("success", TraceStatus.OK),
        (TraceStatus.ERROR, TraceStatus.ERROR),
    ],
)
def test_status_normalisation(raw: object, expected: TraceStatus) -> None:
    trace = Trace(trace_id="t1", status=raw)
    assert trace.status is expected
    assert trace.model_dump(mode="json")["status"] == expected.value


@pytest.mark.parametrize("raw", ["failed", "STATUS_CODE_BOGUS", "", 1, None])
def test_invalid_status_rejected(raw: object) -> None:
    with pytest.raises(ValidationError) as exc:
        Trace(trace_id="t1", status=raw)
    assert _error_locs(exc) == [("status",)]


@pytest.mark.parametrize(
    ("field", "value", "loc"),
    [
        ("trace_id", 123, ("trace_id",)),
        ("latency_ms", "fast", ("latency_ms",)),
        ("latency_ms", -1, ("latency_ms",)),
        ("cost_usd", -0.01, ("cost_usd",)),
        ("context", [1, 2], ("context", 0)),
        ("usage", {"input_tokens": -5}, ("usage", "input_tokens")),
        ("usage", {"output_tokens": "many"}, ("usage", "output_tokens")),
        ("spans", {"span_id": "s"}, ("spans",)),
        ("expectations", {"expected_facts": "one fact"}, ("expectations", "expected_facts")),
    ],
)
def test_wrong_types_rejected(field: str, value: object, loc: tuple) -> None:
    with pytest.raises(ValidationError) as exc:
        Trace.model_validate({"trace_id": "t1", field: value})
    assert loc in _error_locs(exc)


def test_tags_must_be_strings() -> None:
    # Decision: tags are str -> str (the contract); a number is not coerced, it is rejected so
    # the producer learns about it through the dead-letter reason.
    with pytest.raises(ValidationError) as exc:
        Trace(trace_id="t1", tags={"app": "bot", "version": 2})
    assert _error_locs(exc) == [("tags", "version")]
    assert exc.value.errors()[0]["type"] == "string_type"


def test_numeric_strings_and_ints_are_coerced_where_lax() -> None:
    trace = Trace.model_validate({"trace_id": "t1", "latency_ms": "12.5", "cost_usd": 1})
    assert trace.latency_ms == 12.5
    assert trace.cost_usd == 1.0 and isinstance(trace.cost_usd, float)


def test_context_string_becomes_single_item_list() -> None:
    assert Trace(trace_id="t1", context="doc one").context == ["doc one"]
    assert Trace(trace_id="t1", context=["a", "b"]).context == ["a", "b"]
    assert Trace(trace_id="t1", context=[]).context == []


@pytest.mark.parametrize(
    ("usage", "total"),
    [
        ({"input_tokens": 10, "output_tokens": 5}, 15),
        ({"input_tokens": 10}, 10),
        ({"output_tokens": 7}, 7),
        ({"input_tokens": 0}, 0),
        ({"input_tokens": 0, "output_tokens": None}, 0),
        ({"input_tokens": 10, "output_tokens": 5, "total_tokens": 99}, 99),  # given wins
        ({}, None),
        ({"total_tokens": 42}, 42),
    ],
)
def test_usage_total_derivation(usage: dict, total: int | None) -> None:
    trace = Trace.model_validate({"trace_id": "t1", "usage": usage})
    assert trace.usage is not None
    assert trace.usage.total_tokens == total
    assert trace.model_dump()["usage"]["total_tokens"] == total


def test_usage_token_properties() -> None:
    trace = Trace(trace_id="t1", usage=Usage(input_tokens=3, output_tokens=4))
    assert (trace.input_tokens, trace.output_tokens) == (3, 4)


def test_trace_is_frozen() -> None:
    trace = Trace(trace_id="t1", tags={"app": "bot"})
    with pytest.raises(ValidationError):
        trace.trace_id = "t2"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        trace.status = TraceStatus.ERROR  # type: ignore[misc]
    assert trace.trace_id == "t1"
    usage = Usage(input_tokens=1)
    with pytest.raises(ValidationError):
        usage.input_tokens = 2  # type: ignore[misc]


def test_app_property() -> None:
    assert Trace(trace_id="t1").app == "unknown"
    assert Trace(trace_id="t1", tags={"env": "prod"}).app == "unknown"
    assert Trace(trace_id="t1", tags={"app": "support-bot"}).app == "support-bot"
    assert "app" not in Trace(trace_id="t1").model_dump()  # a property, not a field


def test_expectations_parse() -> None:
    trace = Trace.model_validate(
        {"trace_id": "t1", "expectations": {"expected_response": "4", "expected_facts": ["a"]}}
    )
    assert trace.expectations == Expectations(expected_response="4", expected_facts=["a"])


def test_spans_parse_with_timestamps_and_status() -> None:
    trace = Trace.model_validate(
        {
            "trace_id": "t1",
            "spans": [
                {
                    "span_id": "root",
                    "name": "chat",
                    "start_time": "2023-11-14T22:13:20Z",
                    "end_time": EPOCH_S * 1000 + 1500,
                    "status": "STATUS_CODE_UNSET",
                    "attributes": {"llm.model": "gpt-4o"},
                },
                {
                    "span_id": "child",
                    "parent_id": "root",
                    "start_time": EPOCH_S,
                    "end_time": "2023-11-14T22:13:21",
                    "status": "error",
                },
            ],
        }
    )
    assert trace.spans is not None
    root, child = trace.spans
    assert isinstance(root, Span)
    assert root.start_time == EXPECTED
    assert root.end_time == EXPECTED + timedelta(milliseconds=1500)
    assert root.status is TraceStatus.OK
    assert root.attributes == {"llm.model": "gpt-4o"}
    assert child.parent_id == "root"
    assert child.start_time == EXPECTED
    assert child.end_time == EXPECTED + timedelta(seconds=1)
    assert child.status is TraceStatus.ERROR


def test_span_bad_timestamp_rejected_with_location() -> None:
    with pytest.raises(ValidationError) as exc:
        Trace.model_validate({"trace_id": "t1", "spans": [{"span_id": "s", "end_time": True}]})
    assert _error_locs(exc) == [("spans", 0, "end_time")]


def test_json_round_trip_of_a_full_trace() -> None:
    trace = Trace.model_validate(
        {
            "trace_id": "t1",
            "timestamp": EPOCH_S * 1000,
            "inputs": {"question": "2+2?"},
            "outputs": "4",
            "context": "math",
            "expectations": {"expected_response": "4"},
            "status": "error",
            "error": "boom",
            "latency_ms": 12.5,
            "model": "gpt-4o",
            "usage": {"input_tokens": 3, "output_tokens": 1},
            "cost_usd": 0.001,
            "tags": {"app": "calc"},
            "spans": [{"span_id": "s1", "start_time": EPOCH_S}],
            "custom": [1, 2, 3],
        }
    )
    again = Trace.model_validate_json(trace.model_dump_json())
    assert again == trace
    assert again.timestamp == EXPECTED
    assert again.status is TraceStatus.ERROR
    assert again.usage is not None and again.usage.total_tokens == 4
