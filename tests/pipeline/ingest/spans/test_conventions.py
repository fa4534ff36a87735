from __future__ import annotations

import json

import pytest

from pipeline.ingest import (
    decode_otlp_json,
    group_by_trace,
    normalize_span,
    span_from_attributes,
    spans_to_trace,
)
from schemas.trace import Trace

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def span(span_id, parent=None, attrs=None, start=0, end=10, **extra):
    """A normalized span; times are milliseconds after T0."""
    return {
        "trace_id": "ab" * 16,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": extra.pop("name", span_id),
        "kind": "INTERNAL",
        "start_ns": T0 + start * MS,
        "end_ns": T0 + end * MS,
        "status_code": extra.pop("status_code", "UNSET"),
        "status_message": extra.pop("status_message", None),
        "attributes": attrs or {},
        "events": extra.pop("events", []),
        "resource": extra.pop("resource", {"service.name": "unit-app"}),
    }


def trace_of(spans):
    trace = spans_to_trace(spans)
    Trace.model_validate(trace)
    return trace


def mlflow_attrs(span_type, inputs=None, outputs=None, **more):
    attrs = {
        "mlflow.traceRequestId": json.dumps("tr-" + "ab" * 16),
        "mlflow.spanType": json.dumps(span_type),
        "mlflow.spanInputs": json.dumps(inputs),
        "mlflow.spanOutputs": json.dumps(outputs),
    }
    attrs.update({k: json.dumps(v) for k, v in more.items()})
    return attrs


# --- dataset files -------------------------------------------------------------------------


MLFLOW_CAPTURE = [
    # question, order_id, answer, document, input/output/total tokens, status
    (
        "How do I get a refund?",
        None,
        "You can get a refund within 14 days; it goes back to your original payment method.",
        "Refunds are issued within 14 days of purchase to the original payment method.",
        (168, 30, 198),
        "OK",
    ),
    (
        "I forgot my password",
        None,
        "Open Settings, then Security, then click Reset password.",
        "To reset your password, open Settings, choose Security and click Reset password.",
        (168, 30, 198),
        "OK",
    ),
    (
        "Where is my parcel?",
        "A-1009",
        "Shipping usually takes 3 to 5 business days.",
        "Standard shipping takes 3 to 5 business days within the EU.",
        (163, 30, 193),
        "OK",
    ),
    (
        "Where is my parcel?",
        "bad",
        "Shipping usually takes 3 to 5 business days.",
        "Standard shipping takes 3 to 5 business days within the EU.",
        (163, 30, 193),
        "ERROR",
    ),
]


def test_mlflow_otlp_capture(load):
    groups = group_by_trace(decode_otlp_json(load("mlflow_otlp/support-bot-4-traces.json")))
    traces = [trace_of(g) for g in groups]
    assert [t["trace_id"] for t in traces] == [
        "tr-14a08914197a14feae3e1629a61f1352",
        "tr-7a34b957e4631499bc0cf4c5b36acd92",
        "tr-fb0863a8702aebb844969578749d48a8",
        "tr-7d82a2c5a7e2340869be24ebc8e558d1",
    ]
    for trace, (question, order_id, answer, doc, tokens, status) in zip(
        traces, MLFLOW_CAPTURE, strict=True
    ):
        assert trace["inputs"] == {"question": question, "order_id": order_id}
        assert trace["outputs"] == answer
        assert trace["context"] == [doc]
        assert trace["model"] == "gpt-4o-mini"
        assert trace["usage"] == dict(
            zip(("input_tokens", "output_tokens", "total_tokens"), tokens, strict=True)
        )
        assert trace["status"] == status
        assert trace["tags"]["app"] == "support-bot"
        assert trace["tags"]["otel_trace_id"] == trace["trace_id"].removeprefix("tr-")
    assert traces[0]["latency_ms"] == 2.19
    assert traces[0]["timestamp"] == "2026-11-24T21:21:18.154749+00:00"
    assert [s["span_type"] for s in traces[0]["spans"]] == ["AGENT", "RETRIEVER", "CHAT_MODEL"]
    failed = traces[3]
    assert failed["error"] == "ValueError: order service unavailable"
    assert failed["tags"]["error_span_id"] == "141e7f715f9609fd"
    by_id = {s["span_id"]: s for s in failed["spans"]}
    assert by_id["141e7f715f9609fd"]["status"] == "ERROR"
    assert by_id["141e7f715f9609fd"]["span_type"] == "TOOL"
    assert by_id["141e7f715f9609fd"]["inputs"] == {"order_id": "bad"}


def test_monocle_sdk_json(load):
    trace = trace_of([normalize_span(s) for s in load("otel_monocle/sample_trace.json")])
    assert trace["trace_id"] == "88aab76b2c213fbdf8d217f35f500d11"
    assert trace["inputs"] == "What are expense reports"  # root is bare: first span with input
    assert trace["outputs"].startswith("Expense reports are documents that employees use")
    assert trace["model"] == "kshitiz-gpt"
    assert trace["usage"] == {"input_tokens": 46, "output_tokens": 160, "total_tokens": 206}
    assert trace["tags"] == {"app": "employee-ms-basic-bot"}
    assert trace["status"] == "OK"
    assert trace["latency_ms"] == 4666.576
    assert [s["span_type"] for s in trace["spans"]] == ["CHAIN", None, "AGENT", "AGENT", "LLM"]


VERCEL = {  # trace id -> (inputs, output prefix, model, usage)
    "b3e700af9eab81e19f72f964d62a35af": (
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Write a haiku about programming."}],
            }
        ],
        "Lines of code align,",
        "gpt-4o-mini-2024-07-18",
        {"input_tokens": 14, "output_tokens": 20, "total_tokens": 34},
    ),
    "700d5f98fe2420adcf6ab0822f7a323c": (
        {"prompt": "Write a haiku about programming."},
        "Lines of code align,",
        "gpt-4o-mini",
        {"input_tokens": 14, "output_tokens": 20, "total_tokens": 34},
    ),
    "673a889f59126f8b4c90dce5a1f99368": (
        None,
        "3 + 3 equals 6.",
        "gpt-4o-mini",
        {"input_tokens": 50, "output_tokens": 9, "total_tokens": 59},
    ),
    "478d4dcc697ecfabc5e7a3d6e4216291": (
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "Write a short poem about TypeScript."}],
            }
        ],
        "In code’s embrace, where types align,",
        "gpt-4o-mini-2024-07-18",
        {"input_tokens": 15, "output_tokens": 112, "total_tokens": 127},
    ),
    "91621bbaaf1920e94ae594e91b3a99fd": (
        "The quick brown fox jumps over the lazy dog.",
        None,
        "text-embedding-3-small",
        {"input_tokens": 10, "total_tokens": 10},
    ),
}


def test_vercel_ai_sdk_js_spans(load):
    spans = [normalize_span(s) for s in load("openinference_genai_spans/all-spans.json")]
    traces = {t["trace_id"]: t for t in (trace_of(g) for g in group_by_trace(spans))}
    assert len(traces) == 10
    for trace_id, (inputs, output, model, usage) in VERCEL.items():
        trace = traces[trace_id]
        if inputs is not None:
            assert trace["inputs"] == inputs
        if output is None:
            assert trace["outputs"] is None
        else:
            assert trace["outputs"].startswith(output)
        assert (trace["model"], trace["usage"], trace["status"]) == (model, usage, "OK")
        assert trace["tags"]["function_id"].startswith("test-")
    multi_turn = traces["673a889f59126f8b4c90dce5a1f99368"]["inputs"]["messages"]
    assert multi_turn[-1] == {"role": "user", "content": "And what is 3 + 3?"}
    recipe = traces["8f60802815d6e97da2dbc4708a8e5c7b"]["outputs"]
    assert recipe["name"] == "Scrambled Eggs" and "2 eggs" in recipe["ingredients"]
    assert traces["8f60802815d6e97da2dbc4708a8e5c7b"]["usage"]["total_tokens"] == 219
    assert traces["b3e700af9eab81e19f72f964d62a35af"]["spans"][0]["span_type"] == "LLM"
    assert traces["700d5f98fe2420adcf6ab0822f7a323c"]["spans"][0]["span_type"] == "CHAIN"
    assert traces["045d21a7f69972edf509fe0ff911f3f5"]["spans"][0]["span_type"] == "EMBEDDING"
    embedding = traces["045d21a7f69972edf509fe0ff911f3f5"]["spans"][0]["attributes"]
    assert "ai.embeddings" not in embedding  # > 10 KB: dropped from span attributes


ANSWER = "The weather in Paris is currently rainy with a temperature of 57°F."


def test_openinference_attribute_map(load):
    attrs = load("openinference_genai_spans/openinference_client_span_tool_calls.json")
    trace = trace_of([span_from_attributes(attrs, trace_id="oi-1")])
    assert trace["inputs"]["model"] == "gpt-4"
    assert trace["inputs"]["messages"][0]["parts"][0]["content"] == "Weather in Paris?"
    assert trace["outputs"] == {"text": ANSWER, "finish_reason": "stop"}
    assert trace["model"] == "gpt-4-0613"
    assert trace["usage"] == {"input_tokens": 97, "output_tokens": 52, "total_tokens": 149}
    assert trace["spans"][0]["span_type"] == "LLM"


def test_otel_genai_attribute_map(load):
    attrs = load("openinference_genai_spans/otel_genai_client_span_tool_calls.json")
    trace = trace_of([span_from_attributes(attrs, trace_id="genai-1")])
    assert [m["role"] for m in trace["inputs"]] == ["user", "assistant", "tool"]
    assert trace["inputs"][2]["parts"][0]["response"] == "rainy, 57°F"
    assert trace["outputs"][0]["parts"][0]["content"] == ANSWER
    assert trace["model"] == "gpt-4-0613"  # response model wins over requested "gpt-4"
    assert trace["usage"] == {"input_tokens": 97, "output_tokens": 52, "total_tokens": 149}
    assert trace["spans"][0]["span_type"] == "LLM"


# --- synthetic cases per convention --------------------------------------------------------


def test_mlflow_retriever_documents_become_context_in_order():
    docs_a = [{"page_content": "doc one", "metadata": {}}, {"page_content": "doc two"}]
    trace = trace_of(
        [
            span("r", None, mlflow_attrs("CHAIN", {"q": "hi"}, "answer"), 0, 50),
            span("b", "r", mlflow_attrs("RETRIEVER", "q2", ["doc three"]), 20, 30),
            span("a", "r", mlflow_attrs("RETRIEVER", "q1", docs_a), 1, 10),
            span(
                "c",
                "r",
                mlflow_attrs(
                    "CHAT_MODEL",
                    **{
                        "mlflow.chat.tokenUsage": {"input_tokens": 5, "output_tokens": 2},
                        "mlflow.llm.model": "m-1",
                    },
                ),
                31,
                49,
            ),
        ]
    )
    assert trace["trace_id"] == "tr-" + "ab" * 16
    assert trace["context"] == ["doc one", "doc two", "doc three"]
    assert (trace["inputs"], trace["outputs"]) == ({"q": "hi"}, "answer")
    assert trace["usage"] == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert trace["model"] == "m-1"
    assert trace["latency_ms"] == 50.0


def test_mlflow_trace_token_usage_aggregate_wins():
    usage = {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
    trace = trace_of(
        [
            span("r", None, mlflow_attrs("AGENT", **{"mlflow.trace.tokenUsage": usage})),
            span("c", "r", mlflow_attrs("LLM", **{"mlflow.chat.tokenUsage": {"input_tokens": 1}})),
        ]
    )
    assert trace["usage"] == usage


def test_openinference_documents_tokens_and_json_values():
    retriever = {
        "openinference.span.kind": "RETRIEVER",
        "retrieval.documents.1.document.content": "second",
        "retrieval.documents.0.document.content": "first",
        "retrieval.documents.10.document.content": "eleventh",
    }
    llm = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-x",
        "llm.token_count.prompt": "12",
        "llm.token_count.completion": 3,
        "llm.token_count.total": 15,
        "input.value": '{"question": "why?"}',
        "input.mime_type": "application/json",
        "output.value": "because",
        "output.mime_type": "text/plain",
        "session.id": "s-1",
    }
    root = {"openinference.span.kind": "CHAIN", "input.value": "why?", "output.value": "because"}
    trace = trace_of(
        [span("r", None, root, 0, 9), span("d", "r", retriever, 1, 2), span("l", "r", llm, 3, 8)]
    )
    assert trace["context"] == ["first", "second", "eleventh"]
    assert trace["usage"] == {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15}
    assert (trace["model"], trace["inputs"], trace["outputs"]) == ("gpt-x", "why?", "because")
    assert trace["spans"][2]["inputs"] == {"question": "why?"}
    assert trace["tags"] == {"app": "unit-app", "session_id": "s-1"}
    assert [s["span_type"] for s in trace["spans"]] == ["CHAIN", "RETRIEVER", "LLM"]


def test_genai_events_and_old_token_names():
    events = [
        {"name": "gen_ai.system.message", "time_ns": T0, "attributes": {"content": "be brief"}},
        {"name": "gen_ai.user.message", "time_ns": T0, "attributes": {"content": "hello"}},
        {
            "name": "gen_ai.choice",
            "time_ns": T0,
            "attributes": {"index": 0, "message": '{"role": "assistant", "content": "hi!"}'},
        },
    ]
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-x",
        "gen_ai.usage.prompt_tokens": 7,
        "gen_ai.usage.completion_tokens": 2,
    }
    trace = trace_of([span("g", None, attrs, events=events)])
    assert trace["inputs"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello"},
    ]
    assert trace["outputs"] == [{"role": "assistant", "content": "hi!"}]
    assert trace["model"] == "claude-x"
    assert trace["usage"] == {"input_tokens": 7, "output_tokens": 2, "total_tokens": 9}


def test_genai_prompt_completion_attributes():
    attrs = {
        "gen_ai.prompt": '[{"role": "user", "content": "2+2?"}]',
        "gen_ai.completion": '[{"role": "assistant", "content": "4"}]',
        "gen_ai.response.model": "m",
        "gen_ai.usage.input_tokens": 3,
        "gen_ai.usage.output_tokens": 1,
    }
    trace = trace_of([span("g", None, attrs)])
    assert trace["inputs"] == [{"role": "user", "content": "2+2?"}]
    assert trace["outputs"] == [{"role": "assistant", "content": "4"}]
    assert trace["spans"][0]["span_type"] == "LLM"


def test_error_span_marks_trace_and_records_span_id():
    exception = {
        "name": "exception",
        "time_ns": T0,
        "attributes": {"exception.type": "TimeoutError", "exception.message": "slow"},
    }
    trace = trace_of(
        [
            span("r", None, {}, 0, 20),
            span("ok", "r", {}, 1, 2),
            span("bad", "r", {}, 3, 4, events=[exception]),  # status UNSET, exception event
        ]
    )
    assert (trace["status"], trace["error"]) == ("ERROR", "TimeoutError: slow")
    assert trace["tags"]["error_span_id"] == "bad"
    assert [s["status"] for s in trace["spans"]] == ["OK", "OK", "ERROR"]

    root_failure = trace_of(
        [
            span("r", None, {}, 0, 20, status_code="ERROR", status_message="root broke"),
            span("c", "r", {}, 1, 2, status_code="ERROR"),
        ]
    )
    assert (root_failure["error"], root_failure["tags"]["error_span_id"]) == ("root broke", "r")


def test_duplicate_and_out_of_order_spans():
    llm = {
        "openinference.span.kind": "LLM",
        "llm.token_count.prompt": 4,
        "llm.token_count.completion": 1,
    }
    spans = [
        span("leaf", "mid", llm, 5, 6),
        span("mid", "root", {"input.value": "mid-in"}, 2, 8),
        span("leaf", "mid", llm, 5, 6),  # redelivered copy
        span("root", None, {"input.value": "q", "output.value": "a"}, 0, 10),
    ]
    trace = trace_of(spans)
    assert [s["span_id"] for s in trace["spans"]] == ["root", "mid", "leaf"]
    assert trace["usage"] == {"input_tokens": 4, "output_tokens": 1, "total_tokens": 5}
    assert (trace["inputs"], trace["outputs"], trace["latency_ms"]) == ("q", "a", 10.0)


def test_parent_and_child_reporting_usage_counted_once():
    usage = {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}
    trace = trace_of(
        [
            span("root", None, {"ai.operationId": "ai.generateText", **usage}, 0, 10),
            span("s1", "root", {"ai.operationId": "ai.generateText.doGenerate", **usage}, 1, 4),
            span("s2", "root", {"ai.operationId": "ai.generateText.doGenerate", **usage}, 5, 9),
        ]
    )
    assert trace["usage"] == {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30}


def test_unknown_service_name_is_not_an_app():
    trace = trace_of([span("x", None, resource={"service.name": "unknown_service:python"})])
    assert "app" not in trace["tags"]


def test_bare_root_falls_back_to_descendants():
    trace = trace_of(
        [
            span("root", None, {}, 0, 10),
            span("a", "root", {"input.value": "first"}, 1, 5),
            span("b", "root", {"input.value": "second", "output.value": "last"}, 6, 9),
            span("c", "root", {"output.value": "earlier"}, 2, 3),
        ]
    )
    assert (trace["inputs"], trace["outputs"]) == ("first", "last")


def test_no_spans_is_an_error():
    from pipeline.ingest import IngestError

    with pytest.raises(IngestError, match="at least one span"):
        spans_to_trace([])


def test_a_span_without_id_does_not_become_every_roots_parent():
    """Found by the decoder property test: a root (no parent id) next to a span with no id of
    its own once walked up to that span, so no span was a root and building raised."""
    trace = spans_to_trace([span("0", start=0, end=20), span(None, parent="0", start=5)])
    Trace.model_validate(trace)


def test_spans_in_a_parent_cycle_still_make_a_trace():
    trace = spans_to_trace([span("a", parent="b"), span("b", parent="a", end=30)])
    Trace.model_validate(trace)
