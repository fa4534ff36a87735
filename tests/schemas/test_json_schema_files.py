"""The committed JSON Schema files match the models, and validate what the models write."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from schemas import (
    DeadLetter,
    EvaluationResult,
    EvaluatorAggregate,
    MetricsRecord,
    ScoredSession,
    ScoredTrace,
    SessionMetricsRecord,
    SessionRow,
    SourceOffset,
    SpanRow,
    Trace,
    TraceRow,
)
from schemas.export import EXPORTED_MODELS, SCHEMA_DIR, render, write_all

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

RESULT = EvaluationResult(
    evaluator="latency", score=0.5, passed=False, label="over_slo", metadata={"slo_ms": 1.0}
)

INSTANCES: dict[str, BaseModel] = {
    "trace": Trace.model_validate(
        {
            "trace_id": "t1",
            "timestamp": "2024-05-01T12:00:00Z",
            "inputs": {"question": "q"},
            "outputs": "a",
            "context": ["doc"],
            "expectations": {"expected_response": "a", "expected_facts": ["f"]},
            "status": "ERROR",
            "error": "boom",
            "latency_ms": 10.0,
            "model": "gpt-4o",
            "usage": {"input_tokens": 1, "output_tokens": 2},
            "cost_usd": 0.5,
            "tags": {"app": "bot"},
            "spans": [{"span_id": "s", "start_time": 1_700_000_000, "status": "OK"}],
            "custom_field": {"kept": True},
        }
    ),
    "evaluation_result": RESULT,
    "scored_trace": ScoredTrace(
        trace_id="t1",
        timestamp=T0,
        app="bot",
        status="OK",
        results=[RESULT, EvaluationResult(evaluator="error", error="timed out")],
        source=SourceOffset(topic="traces", partition=0, offset=1),
        scored_at=T0,
    ),
    "metrics_record": MetricsRecord(
        window_start=T0,
        window_end=T0,
        app="bot",
        worker_id="w",
        trace_count=2,
        error_count=1,
        error_rate=0.5,
        latency_p50_ms=3.0,
        evaluators={"latency": EvaluatorAggregate(evaluations=2, scored=2, mean_score=0.5)},
    ),
    "dead_letter": DeadLetter(
        reason="bad json",
        error_type="JSONDecodeError",
        source_topic="traces",
        source_partition=0,
        source_offset=3,
        raw_base64="eyJ4",
        raw_size=3,
        received_at=T0,
    ),
    "trace_row": TraceRow(
        trace_id="t1",
        trace_version=2,
        timestamp=T0,
        app="bot",
        session_id="s1",
        status="OK",
        inputs_json='{"question": "q"}',
        truncated_fields=["outputs_json"],
        kafka_topic="traces",
        kafka_partition=0,
        kafka_offset=7,
    ),
    "span_row": SpanRow(
        trace_id="t1",
        trace_timestamp=T0,
        span_id="s1",
        parent_id="s0",
        start_time=T0,
        attributes_json="{}",
        kafka_topic="traces",
        kafka_partition=0,
        kafka_offset=7,
    ),
    "scored_session": ScoredSession(
        session_id="s1",
        session_version=2,
        app="bot",
        closed_by="gap",
        first_trace_time=T0,
        last_trace_time=T0,
        turn_count=2,
        trace_ids=["t1", "t2"],
        results=[RESULT],
        scored_at=T0,
    ),
    "session_metrics_record": SessionMetricsRecord(
        window_start=T0,
        window_end=T0,
        app="bot",
        worker_id="w",
        session_count=1,
        turn_count=2,
        error_turns=0,
        evaluators={"goal_completion": EvaluatorAggregate(evaluations=1, scored=1)},
    ),
    "session_row": SessionRow(
        session_id="s1",
        app="bot",
        closed_by="end_marker",
        first_trace_time=T0,
        last_trace_time=T0,
        turn_count=2,
        trace_ids=["t1", "t2"],
        evaluator="goal_completion",
        evaluator_version="1",
        score=1.0,
        kafka_topic="scored-sessions",
        kafka_partition=0,
        kafka_offset=3,
    ),
}

# One change per model that the schema must reject: (path to the key, new value).
BREAKAGES: dict[str, list[tuple[tuple[Any, ...], Any]]] = {
    "trace": [
        (("trace_id",), 123),
        (("status",), "MAYBE"),
        (("latency_ms",), -1),
        (("tags", "app"), 7),
        (("usage", "input_tokens"), -3),
        (("spans", 0, "start_time"), {"seconds": 1}),
        (("spans",), {"span_id": "s"}),
    ],
    "evaluation_result": [
        (("score",), "high"),
        (("source",), "human"),
        (("unexpected",), 1),
    ],
    "scored_trace": [
        (("results", 0, "evaluator"), None),
        (("source", "partition"), "zero"),
        (("timestamp",), None),
    ],
    "metrics_record": [
        (("trace_count",), 1.5),
        (("evaluators", "latency", "scored"), "two"),
        (("window_start",), 1714564800000),
    ],
    "dead_letter": [
        (("raw_size",), "3"),
        (("extra",), True),
    ],
    "trace_row": [
        (("trace_version",), 0),
        (("truncated_fields",), "outputs_json"),
        (("inputs_json",), {"question": "q"}),
    ],
    "span_row": [
        (("span_id",), None),
        (("start_time",), 1714564800000),
    ],
    "scored_session": [
        (("session_version",), 0),
        (("closed_by",), "bored"),
        (("turn_count",), 0),
        (("results", 0, "evaluator"), None),
    ],
    "session_metrics_record": [
        (("kind",), "trace"),
        (("session_count",), "one"),
    ],
    "session_row": [
        (("trace_ids",), "t1"),
        (("session_version",), 0),
    ],
}


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


def test_every_exported_model_is_covered_here() -> None:
    assert set(INSTANCES) == set(EXPORTED_MODELS) == set(BREAKAGES)
    for name, instance in INSTANCES.items():
        assert type(instance) is EXPORTED_MODELS[name]


@pytest.mark.parametrize("name", sorted(EXPORTED_MODELS))
def test_committed_schema_file_is_in_sync(name: str) -> None:
    path = SCHEMA_DIR / f"{name}.schema.json"
    assert path.is_file(), f"{path} is missing: run `python -m schemas.export`"
    committed = path.read_text(encoding="utf-8")
    assert committed == render(EXPORTED_MODELS[name]), (
        f"{path.name} is out of date with {EXPORTED_MODELS[name].__name__}: "
        "run `python -m schemas.export`"
    )


def test_no_stray_schema_files() -> None:
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == {f"{name}.schema.json" for name in EXPORTED_MODELS}


def test_render_is_stable_and_identified() -> None:
    text = render(Trace)
    assert text == render(Trace)
    assert text.endswith("}\n")
    schema = json.loads(text)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://evalstream.dev/schemas/Trace.schema.json"
    assert schema["required"] == ["trace_id"]
    assert schema["additionalProperties"] is True


def test_write_all_writes_what_render_gives(tmp_path: Any) -> None:
    paths = write_all(tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"{n}.schema.json" for n in EXPORTED_MODELS)
    for name, model in EXPORTED_MODELS.items():
        assert (tmp_path / f"{name}.schema.json").read_text(encoding="utf-8") == render(model)


@pytest.mark.parametrize("name", sorted(EXPORTED_MODELS))
def test_schema_validates_a_dumped_instance(name: str) -> None:
    data = json.loads(INSTANCES[name].model_dump_json())
    errors = list(_validator(name).iter_errors(data))
    assert errors == []


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [(name, path, value) for name, cases in sorted(BREAKAGES.items()) for path, value in cases],
)
def test_schema_rejects_a_broken_instance(name: str, path: tuple[Any, ...], value: Any) -> None:
    data = json.loads(INSTANCES[name].model_dump_json())
    _set(data, path, value)
    errors = list(_validator(name).iter_errors(data))
    assert errors, f"{name} schema accepted {path}={value!r}"


@pytest.mark.parametrize(
    "name", sorted(n for n in EXPORTED_MODELS if EXPORTED_MODELS[n] is not Trace)
)
def test_schema_rejects_missing_required_fields(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    data = json.loads(INSTANCES[name].model_dump_json())
    for key in schema["required"]:
        broken = {k: v for k, v in data.items() if k != key}
        assert list(_validator(name).iter_errors(broken)), f"{name} accepted no {key!r}"


def test_trace_schema_requires_trace_id() -> None:
    assert list(_validator("trace").iter_errors({"outputs": "x"}))
    assert not list(_validator("trace").iter_errors({"trace_id": "x"}))
