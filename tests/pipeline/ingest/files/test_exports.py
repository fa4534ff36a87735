from __future__ import annotations

import base64
import json
from pathlib import Path

import orjson
import pytest

from pipeline.ingest import IngestError, detect_format, read_traces, to_traces
from schemas.trace import Trace

DATASET_FORMATS = {
    "langfuse_exports/crewai-2025-07-11.trace.json": "langfuse",
    "langfuse_exports/google-adk-2025-08-28.trace.json": "langfuse",
    "langfuse_exports/langgraph-python-2025-08-22.trace.json": "langfuse",
    "langfuse_exports/llamaindex-2025-06-05.trace.json": "langfuse",
    "langfuse_exports/microsoft-agent-2025-12-17.trace.json": "langfuse",
    "langfuse_exports/openai-agents-2025-09-30.trace.json": "langfuse",
    "langfuse_exports/pydantic-ai-2025-06-06.trace.json": "langfuse",
    "langfuse_exports/vercel-aisdk-2025-11-17.trace.json": "langfuse",
    "mlflow_otlp/support-bot-4-traces.json": "otlp_json",
    "openinference_genai_spans/all-spans.json": "otel_spans",
    "otel_monocle/sample_trace.json": "otel_spans",
    "otlp_json_reference/trace.json": "otlp_json",
}
# attribute maps of a single span, not export files (converted in test_conventions)
ATTRIBUTE_MAPS = {
    "openinference_genai_spans/openinference_client_span_tool_calls.json",
    "openinference_genai_spans/otel_genai_client_span_tool_calls.json",
}


def converted(obj, **kwargs):
    traces = to_traces(obj, **kwargs)
    for trace in traces:
        Trace.model_validate(trace)
    return traces


def test_dataset_inventory_is_covered(traces_dir):
    found = {str(p.relative_to(traces_dir)) for p in traces_dir.rglob("*.json")}
    assert found == set(DATASET_FORMATS) | ATTRIBUTE_MAPS


@pytest.mark.parametrize("relative", sorted(DATASET_FORMATS))
def test_every_dataset_file_converts(load, relative):
    obj = load(relative)
    assert detect_format(obj) == DATASET_FORMATS[relative]
    traces = converted(obj)
    assert traces and all(t["trace_id"] and t["spans"] for t in traces)


@pytest.mark.parametrize("relative", sorted(ATTRIBUTE_MAPS))
def test_attribute_maps_are_not_export_files(load, relative):
    with pytest.raises(IngestError, match="expected native trace JSON"):
        to_traces(load(relative))


LANGFUSE = {
    # file stem: (trace id, model, (in, out, total), cost, latency_ms, span count)
    "crewai-2025-07-11": (
        "a287bb31e317433610d8827617471140",
        "gpt-4o-mini",
        (190, 164, 354),
        0.0001269,
        3750.0,
        6,
    ),
    "google-adk-2025-08-28": (
        "b82a0bdc1994fc5d1c8576ca032543f7",
        "gemini-2.0-flash",
        (67, 9, 76),
        1.03e-05,
        1848.0,
        5,
    ),
    "langgraph-python-2025-08-22": (
        "e1fde3efec57ce8a69bafd3fb928a7eb",
        "gpt-4o-2024-08-06",
        (168, 66, 234),
        0.000234,
        2610.0,
        9,
    ),
    "llamaindex-2025-06-05": (
        "12ea412956f99347b0503c1144acd0ec",
        "gpt-4o",
        (13, 81, 94),
        0.000842499999,
        2779.0,
        2,
    ),
    "microsoft-agent-2025-12-17": (
        "8e419d3288419b5d944270505640e183",
        "gpt-5-mini-2025-08-07",
        (293, 106, 399),  # the two chat generations, not the agent's own aggregate
        0.00028525,
        4364.0,
        4,
    ),
    "openai-agents-2025-09-30": (
        "fee618f96dc31e0ca38b2f7b26eb8b29",
        "gpt-4.1-2025-04-14",
        (140, 44, 184),
        0.000632,
        2190.0,
        5,
    ),
    "pydantic-ai-2025-06-06": (
        "25f4bdeebaab60e6e1bee7e8469554bc",
        "gpt-4o",
        (31, 96, 127),
        0.0010375,
        4795.0,
        3,
    ),
    "vercel-aisdk-2025-11-17": (
        "df41e597d0a85e0d7a6ae8ebfaa70aa0",
        "gpt-5",
        (62, 85, 147),
        0.000927499999,
        3045.0,
        3,
    ),
}


@pytest.mark.parametrize("stem", sorted(LANGFUSE))
def test_langfuse_export_values(load, stem):
    [trace] = converted(load(f"langfuse_exports/{stem}.trace.json"))
    trace_id, model, tokens, cost, latency, n_spans = LANGFUSE[stem]
    assert trace["trace_id"] == trace_id
    assert trace["model"] == model
    assert trace["usage"] == dict(
        zip(("input_tokens", "output_tokens", "total_tokens"), tokens, strict=True)
    )
    assert trace["cost_usd"] == pytest.approx(cost)
    assert trace["latency_ms"] == latency
    assert len(trace["spans"]) == n_spans
    assert trace["status"] == "OK"
    assert "context" not in trace  # no retriever observations in these exports
    assert "app" not in trace["tags"]  # service.name is the SDK default "unknown_service"
    assert trace["tags"]["source"] == "langfuse"


def test_langfuse_inputs_outputs(load):
    def one(stem):
        [trace] = converted(load(f"langfuse_exports/{stem}.trace.json"))
        return trace

    llama = one("llamaindex-2025-06-05")
    assert llama["inputs"] == "What is Langfuse?"  # double-encoded JSON string decoded
    assert llama["outputs"].startswith("Langfuse is a tool designed to help developers monitor")
    assert llama["tags"]["langfuse_tags"] == "llama-index,rag"
    assert (llama["tags"]["user_id"], llama["tags"]["session_id"]) == ("user_123", "session_abc")
    adk = one("google-adk-2025-08-28")
    assert adk["inputs"]["new_message"] == {"parts": [{"text": "hi"}], "role": "user"}
    assert adk["outputs"]["content"]["parts"][0]["text"] == "Hello Langfuse 👋!\n"
    agents = one("openai-agents-2025-09-30")  # trace input/output empty: from observations
    assert agents["inputs"] == [{"content": "What's the weather in Tokyo?", "role": "user"}]
    assert agents["outputs"]["output"][0]["content"][0]["text"].startswith(
        "The weather in Tokyo is currently sunny."
    )
    crew = one("crewai-2025-07-11")
    assert crew["outputs"]["raw"].startswith("```html\n<!DOCTYPE html>")
    vercel = one("vercel-aisdk-2025-11-17")
    assert vercel["inputs"] == {"prompt": "What is the weather like today in San Francisco?"}
    assert vercel["outputs"][0]["toolName"] == "getWeather"
    ms = one("microsoft-agent-2025-12-17")
    assert ms["outputs"][-1]["parts"][0]["content"].startswith("Current conditions in Tokyo")
    assert [s["span_type"] for s in ms["spans"]] == ["AGENT", "LLM", "TOOL", "LLM"]
    pyd = one("pydantic-ai-2025-06-06")
    assert pyd["inputs"] == "What is Langfuse?"


def langfuse_doc(level="DEFAULT", obs_type="RETRIEVER", output=None):
    return {
        "trace": {"id": "lf-1", "timestamp": "2025-01-01T00:00:00Z", "input": None, "output": None},
        "observations": [
            {
                "id": "o1",
                "type": obs_type,
                "name": "search",
                "parentObservationId": None,
                "startTime": "2025-01-01T00:00:00.000Z",
                "endTime": "2025-01-01T00:00:00.250Z",
                "level": level,
                "statusMessage": "index offline" if level == "ERROR" else None,
                "input": '{"query": "q"}',
                "output": output,
                "metadata": json.dumps({"resourceAttributes": {"service.name": "kb-bot"}}),
            }
        ],
    }


def test_langfuse_retriever_documents_and_error_level():
    docs = json.dumps([{"page_content": "alpha"}, {"text": "beta"}, "gamma"])
    [trace] = converted(langfuse_doc(output=docs))
    assert trace["context"] == ["alpha", "beta", "gamma"]
    assert trace["inputs"] == {"query": "q"}
    assert trace["tags"]["app"] == "kb-bot"
    assert trace["latency_ms"] == 250.0
    [failed] = converted(langfuse_doc(level="ERROR", obs_type="SPAN"))
    assert (failed["status"], failed["error"]) == ("ERROR", "index offline")
    assert failed["tags"]["error_span_id"] == "o1"


# --- MLflow exports ------------------------------------------------------------------------

OTEL_TRACE = "5c0d0b0b4e9a4b0c9a6d9f1e2d3c4b5a"
T0 = 1_748_772_000_000_000_000  # 2025-06-01T10:00:00Z


def _enc(value):
    return json.dumps(value)


def mlflow3_trace(state="OK"):
    trace_id = f"tr-{OTEL_TRACE}"
    base = {"mlflow.traceRequestId": _enc(trace_id)}

    def span(span_id, parent, span_type, inputs, outputs, start, end, **attrs):
        return {
            "trace_id": trace_id,
            "span_id": span_id,
            "parent_span_id": parent,
            "name": span_type.lower(),
            "start_time_unix_nano": T0 + start,
            "end_time_unix_nano": T0 + end,
            "events": [],
            "status": {"code": "OK", "message": ""},
            "attributes": {
                **base,
                "mlflow.spanType": _enc(span_type),
                "mlflow.spanInputs": _enc(inputs),
                "mlflow.spanOutputs": _enc(outputs),
                **{k: _enc(v) for k, v in attrs.items()},
            },
            "mlflow.span_dict_version": 4,
            "otel_trace_id": OTEL_TRACE,
        }

    docs = [{"page_content": "Paris is the capital of France.", "metadata": {}, "id": "d1"}]
    return {
        "info": {
            "trace_id": trace_id,
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": "7"},
            },
            "request_time": "2025-06-01T10:00:00Z",
            "execution_duration_ms": 1234,
            "state": state,
            "request_preview": '{"question": "Capital of France?"}',
            "response_preview": '"Paris"',
            "trace_metadata": {
                "mlflow.trace.tokenUsage": _enc(
                    {"input_tokens": 40, "output_tokens": 4, "total_tokens": 44}
                ),
                "mlflow.trace.session": "sess-9",
            },
            "tags": {"mlflow.traceName": "answer", "team": "search"},
            "assessments": [],
        },
        "data": {
            "spans": [
                span(
                    "aaaaaaaaaaaaaaa2",
                    "aaaaaaaaaaaaaaa1",
                    "RETRIEVER",
                    {"q": "capital"},
                    docs,
                    10,
                    20,
                ),
                span(
                    "aaaaaaaaaaaaaaa3",
                    "aaaaaaaaaaaaaaa1",
                    "CHAT_MODEL",
                    {"messages": []},
                    {"choices": []},
                    30,
                    40,
                    **{"mlflow.llm.model": "gpt-4o"},
                ),
                span(
                    "aaaaaaaaaaaaaaa1",
                    None,
                    "AGENT",
                    {"question": "Capital of France?"},
                    "Paris",
                    0,
                    50,
                ),
            ]
        },
    }


def test_mlflow3_export():
    obj = mlflow3_trace()
    assert detect_format(obj) == "mlflow"
    [trace] = converted(obj)
    assert trace["trace_id"] == f"tr-{OTEL_TRACE}"
    assert trace["timestamp"] == "2025-06-01T10:00:00Z"
    assert trace["latency_ms"] == 1234
    assert (trace["inputs"], trace["outputs"]) == ({"question": "Capital of France?"}, "Paris")
    assert trace["context"] == ["Paris is the capital of France."]
    assert trace["model"] == "gpt-4o"
    assert trace["usage"] == {"input_tokens": 40, "output_tokens": 4, "total_tokens": 44}
    assert trace["status"] == "OK"
    assert trace["tags"] == {
        "team": "search",
        "mlflow_experiment_id": "7",
        "session_id": "sess-9",
        "trace_name": "answer",
        "source": "mlflow",
        "otel_trace_id": OTEL_TRACE,
    }
    assert [s["span_type"] for s in trace["spans"]] == ["AGENT", "RETRIEVER", "CHAT_MODEL"]


def test_mlflow3_error_state_and_list_of_traces():
    traces = converted({"traces": [mlflow3_trace(), mlflow3_trace(state="ERROR")]})
    assert [t["status"] for t in traces] == ["OK", "ERROR"]
    assert traces[1]["error"] == "MLflow trace state is ERROR"


def test_mlflow3_proto_style_spans_with_base64_ids():
    obj = mlflow3_trace()
    for span in obj["data"]["spans"]:
        span.pop("otel_trace_id")
        span["trace_id"] = base64.b64encode(bytes.fromhex(OTEL_TRACE)).decode()
        span["span_id"] = base64.b64encode(bytes.fromhex(span["span_id"])).decode()
        parent = span["parent_span_id"]
        span["parent_span_id"] = base64.b64encode(bytes.fromhex(parent)).decode() if parent else ""
        span["start_time_unix_nano"] = str(span["start_time_unix_nano"])
        span["status"] = {"code": "STATUS_CODE_OK"}
    [trace] = converted(obj)
    assert trace["spans"][0]["span_id"] == "aaaaaaaaaaaaaaa1"
    assert trace["context"] == ["Paris is the capital of France."]


def test_mlflow2_export():
    obj = {
        "info": {
            "request_id": "tr-legacy",
            "experiment_id": "0",
            "timestamp_ms": 1717236000000,
            "execution_time_ms": 500,
            "status": "ERROR",
            "request_metadata": {},
            "tags": {"mlflow.traceName": "predict"},
        },
        "data": {
            "spans": [
                {
                    "name": "predict",
                    "context": {"span_id": "0x5a2d3c4b5a6f7e8d", "trace_id": "0x" + "1" * 32},
                    "parent_id": None,
                    "start_time": 1717236000000000000,
                    "end_time": 1717236000500000000,
                    "status_code": "ERROR",
                    "status_message": "ValueError: boom",
                    "attributes": {
                        "mlflow.traceRequestId": '"tr-legacy"',
                        "mlflow.spanType": '"LLM"',
                        "mlflow.spanInputs": '{"x": 1}',
                    },
                    "events": [
                        {
                            "name": "exception",
                            "timestamp": 1717236000400000000,
                            "attributes": {"exception.message": "boom"},
                        }
                    ],
                }
            ],
            "request": '{"x": 1}',
            "response": None,
        },
    }
    [trace] = converted(obj)
    assert trace["trace_id"] == "tr-legacy"
    assert (trace["status"], trace["error"]) == ("ERROR", "ValueError: boom")
    assert trace["tags"]["error_span_id"] == "5a2d3c4b5a6f7e8d"
    assert trace["latency_ms"] == 500
    assert trace["timestamp"] == 1717236000000
    assert trace["inputs"] == {"x": 1}


# --- native, files, errors -----------------------------------------------------------------


def test_native_passthrough_and_default_app():
    native = [
        {"trace_id": "n1", "inputs": "q", "outputs": "a"},
        {"trace_id": "n2", "tags": {"app": "x"}},
    ]
    assert detect_format(native) == "native"
    traces = converted(native, app="backfill")
    assert [t["tags"]["app"] for t in traces] == ["backfill", "x"]
    assert native[0] == {"trace_id": "n1", "inputs": "q", "outputs": "a"}  # input untouched


def test_read_traces_json_jsonl_and_protobuf(tmp_path: Path, traces_dir: Path):
    jsonl = tmp_path / "traces.jsonl"
    jsonl.write_bytes(b'{"trace_id": "a"}\n\n{"trace_id": "b"}\n')
    assert [t["trace_id"] for t in read_traces(jsonl)] == ["a", "b"]
    monocle = read_traces(traces_dir / "otel_monocle/sample_trace.json", app="ignored")
    assert monocle[0]["tags"]["app"] == "employee-ms-basic-bot"
    pytest.importorskip("opentelemetry.proto")
    from_pb = read_traces(traces_dir / "mlflow_otlp/support-bot-4-traces.pb")
    from_json = read_traces(traces_dir / "mlflow_otlp/support-bot-4-traces.json")
    assert from_pb == from_json
    assert [t["status"] for t in from_pb] == ["OK", "OK", "OK", "ERROR"]


@pytest.mark.parametrize("obj", [{"foo": 1}, [], [{"trace_id": "a"}, {"info": {}, "data": {}}], 3])
def test_unrecognized_shapes(obj):
    with pytest.raises(IngestError, match="expected native trace JSON"):
        to_traces(obj)


def test_invalid_json_file(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(IngestError, match="not valid JSON"):
        read_traces(bad)


def test_output_is_json_serializable(load):
    for relative in DATASET_FORMATS:
        for trace in to_traces(load(relative)):
            orjson.dumps(trace)
