"""The messages evalstream writes: frozen, extra fields forbidden, JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from schemas import (
    NOT_APPLICABLE,
    DeadLetter,
    EvaluationResult,
    EvaluatorAggregate,
    MetricsRecord,
    ResultSource,
    ScoredTrace,
    SourceOffset,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _result(**overrides: object) -> EvaluationResult:
    data: dict[str, object] = {
        "evaluator": "latency",
        "evaluator_version": "2",
        "score": 0.75,
        "passed": False,
        "label": "over_slo",
        "rationale": "2000 ms vs SLO 1500 ms",
        "latency_ms": 0.12,
        "source": "code",
        "span_id": "s1",
        "metadata": {"slo_ms": 1500.0, "nested": {"a": [1, "b", None]}},
    }
    data.update(overrides)
    return EvaluationResult.model_validate(data)


def _scored() -> ScoredTrace:
    return ScoredTrace(
        trace_id="t1",
        timestamp=T0,
        app="bot",
        model="gpt-4o",
        status="ERROR",
        error="boom",
        latency_ms=2000.0,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.0001,
        tags={"app": "bot", "env": "prod"},
        results=[_result(), _result(evaluator="error", score=None, error="timed out after 30s")],
        source=SourceOffset(topic="traces", partition=3, offset=42),
        scored_at=T0 + timedelta(seconds=1),
    )


def _metrics() -> MetricsRecord:
    return MetricsRecord(
        window_start=T0,
        window_end=T0 + timedelta(minutes=1),
        app="bot",
        worker_id="w-1",
        source_partition=2,
        trace_count=10,
        error_count=1,
        error_rate=0.1,
        latency_p50_ms=100.0,
        latency_p95_ms=900.0,
        latency_p99_ms=1000.0,
        input_tokens=100,
        output_tokens=50,
        cost_usd=0.25,
        evaluators={
            "latency": EvaluatorAggregate(
                evaluations=10, scored=9, mean_score=0.8, pass_rate=0.7, error_count=1
            )
        },
    )


def _dead_letter() -> DeadLetter:
    return DeadLetter(
        reason="trace_id: Field required",
        error_type="ValidationError",
        source_topic="traces",
        source_partition=0,
        source_offset=7,
        source_key_base64=None,
        raw_base64="e30=",
        raw_size=2,
        received_at=T0,
    )


MESSAGES = {
    "evaluation_result": _result,
    "scored_trace": _scored,
    "metrics_record": _metrics,
    "dead_letter": _dead_letter,
    "evaluator_aggregate": lambda: EvaluatorAggregate(evaluations=1, scored=1),
    "source_offset": lambda: SourceOffset(topic="t", partition=0, offset=0),
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_extra_fields_forbidden(name: str) -> None:
    message: BaseModel = MESSAGES[name]()
    data = message.model_dump()
    data["surprise"] = 1
    with pytest.raises(ValidationError) as exc:
        type(message).model_validate(data)
    errors = exc.value.errors()
    assert [(e["type"], e["loc"]) for e in errors] == [("extra_forbidden", ("surprise",))]


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_json_round_trip(name: str) -> None:
    message: BaseModel = MESSAGES[name]()
    text = message.model_dump_json()
    again = type(message).model_validate_json(text)
    assert again == message
    assert again.model_dump_json() == text


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_messages_are_frozen(name: str) -> None:
    message: BaseModel = MESSAGES[name]()
    field = next(iter(type(message).model_fields))
    before = getattr(message, field)
    with pytest.raises(ValidationError):
        setattr(message, field, before)
    assert getattr(message, field) == before


def test_result_defaults() -> None:
    result = EvaluationResult(evaluator="x")
    assert result.model_dump() == {
        "schema_version": 1,
        "evaluator": "x",
        "evaluator_version": "1",
        "score": None,
        "passed": None,
        "label": None,
        "rationale": None,
        "error": None,
        "latency_ms": None,
        "source": ResultSource.CODE,
        "span_id": None,
        "metadata": {},
    }
    assert NOT_APPLICABLE == "not_applicable"


def test_result_source_values() -> None:
    assert [s.value for s in ResultSource] == ["code", "model", "llm_judge"]
    assert _result(source="llm_judge").source is ResultSource.LLM_JUDGE
    with pytest.raises(ValidationError):
        _result(source="human")


def test_result_json_shape() -> None:
    dumped = _result().model_dump(mode="json")
    assert dumped["source"] == "code"
    assert dumped["metadata"] == {"slo_ms": 1500.0, "nested": {"a": [1, "b", None]}}
    assert dumped["schema_version"] == 1


@pytest.mark.parametrize(
    ("field", "value"), [("score", "high"), ("passed", "maybe"), ("evaluator", None)]
)
def test_result_rejects_wrong_types(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as exc:
        _result(**{field: value})
    assert exc.value.errors()[0]["loc"] == (field,)


def test_scored_trace_requires_results_and_source() -> None:
    data = _scored().model_dump()
    del data["results"], data["source"]
    with pytest.raises(ValidationError) as exc:
        ScoredTrace.model_validate(data)
    assert sorted(e["loc"][0] for e in exc.value.errors()) == ["results", "source"]


def test_scored_trace_nested_result_extra_forbidden() -> None:
    data = _scored().model_dump()
    data["results"][0]["bogus"] = True
    with pytest.raises(ValidationError) as exc:
        ScoredTrace.model_validate(data)
    assert exc.value.errors()[0]["loc"] == ("results", 0, "bogus")


def test_scored_trace_json_keeps_timestamps() -> None:
    dumped = _scored().model_dump(mode="json")
    assert dumped["timestamp"] == "2024-05-01T12:00:00Z"
    assert dumped["scored_at"] == "2024-05-01T12:00:01Z"
    assert dumped["source"] == {"topic": "traces", "partition": 3, "offset": 42}
    assert dumped["results"][1]["error"] == "timed out after 30s"


def test_metrics_key_format() -> None:
    record = _metrics()
    assert record.key == "bot|2024-05-01T12:00:00+00:00"
    other = record.model_copy(update={"app": "search", "window_start": T0 + timedelta(hours=1)})
    assert other.key == "search|2024-05-01T13:00:00+00:00"


def test_metrics_key_is_same_for_every_partial_record_of_a_window() -> None:
    first = _metrics()
    other = first.model_copy(update={"source_partition": 3, "trace_count": 1})
    assert other.key == first.key


def test_metrics_key_of_offset_window_start() -> None:
    # The key uses the datetime as given; two zones of the same instant give different keys,
    # so producers must send UTC (the worker does).
    cet = timezone(timedelta(hours=1))
    record = _metrics().model_copy(update={"window_start": T0.astimezone(cet)})
    assert record.key == "bot|2024-05-01T13:00:00+01:00"


def test_metrics_defaults() -> None:
    record = MetricsRecord(
        window_start=T0,
        window_end=T0,
        app="a",
        worker_id="w",
        trace_count=0,
        error_count=0,
        error_rate=0.0,
    )
    assert (record.source_partition, record.input_tokens, record.output_tokens) == (0, 0, 0)
    assert record.latency_histogram == []
    assert record.cost_usd == 0.0 and record.evaluators == {}
    assert record.latency_p50_ms is None


def test_metrics_json_round_trip_keeps_aggregates() -> None:
    again = MetricsRecord.model_validate_json(_metrics().model_dump_json())
    aggregate = again.evaluators["latency"]
    assert (aggregate.evaluations, aggregate.scored, aggregate.error_count) == (10, 9, 1)
    assert (aggregate.mean_score, aggregate.pass_rate) == (0.8, 0.7)


def test_dead_letter_requires_reason_and_raw() -> None:
    data = _dead_letter().model_dump()
    del data["reason"], data["raw_base64"]
    with pytest.raises(ValidationError) as exc:
        DeadLetter.model_validate(data)
    assert sorted(e["loc"][0] for e in exc.value.errors()) == ["raw_base64", "reason"]
