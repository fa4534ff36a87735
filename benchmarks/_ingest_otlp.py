"""Realistic OTLP request bodies for benchmarks/ingest.py.

A body is a protobuf ``ExportTraceServiceRequest`` of ``spans`` spans spread over ``traces``
traces (one resource, one OpenInference scope), each trace a small RAG agent: a CHAIN root,
a retriever with three documents, LLM calls with GenAI semconv + OpenInference attributes,
tool calls and an embedding. Spans are 500 B - 1 KB serialized.

Every request must carry fresh trace ids (so the durability check can tell requests apart)
without re-encoding 150 KB of protobuf per request: a trace id is ``8 random bytes`` +
``MARKER`` (8 bytes shared by the whole template), and ``Template.body(seq)`` replaces the
marker with ``seq`` (one ``bytes.replace``). The raw bytes of a trace id appear in the
encoding only in the ``trace_id`` fields, so the result is the same request with new ids.
"""

from __future__ import annotations

import os
import random
import struct
import time
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

MARKER_LEN = 8
_WORDS = [
    "the",
    "refund",
    "policy",
    "allows",
    "returns",
    "within",
    "thirty",
    "days",
    "of",
    "delivery",
    "provided",
    "the",
    "item",
    "is",
    "unused",
    "and",
    "in",
    "its",
    "original",
    "packaging",
    "customers",
    "must",
    "include",
    "the",
    "order",
    "number",
    "and",
    "a",
    "short",
    "description",
    "of",
    "the",
    "problem",
    "shipping",
    "costs",
    "are",
    "not",
    "refunded",
    "unless",
    "the",
    "item",
    "arrived",
    "damaged",
    "or",
    "the",
    "wrong",
    "item",
    "was",
    "sent",
    "premium",
    "members",
    "get",
    "free",
    "return",
    "labels",
]
_MODELS = ("gpt-4o-mini", "claude-3-5-haiku", "gpt-4.1", "llama-3.1-70b-instruct")


def _text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _attrs(span: Span, items: dict[str, str | int | float | bool]) -> None:
    span.attributes.extend(_kv(k, v) for k, v in items.items())


def _llm_attrs(rng: random.Random, question: str) -> dict[str, str | int | float | bool]:
    model = rng.choice(_MODELS)
    prompt, completion = rng.randint(300, 3000), rng.randint(40, 600)
    return {
        "openinference.span.kind": "LLM",
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": prompt,
        "gen_ai.usage.output_tokens": completion,
        "gen_ai.response.finish_reasons": "stop",
        "llm.model_name": model,
        "llm.token_count.prompt": prompt,
        "llm.token_count.completion": completion,
        "llm.token_count.total": prompt + completion,
        "input.value": question + " " + _text(rng, rng.randint(60, 180)),
        "input.mime_type": "text/plain",
        "output.value": _text(rng, rng.randint(60, 160)),
    }


def _trace_spans(rng: random.Random, trace_id: bytes, count: int, start_ns: int) -> list[Span]:
    """``count`` spans of one agent run; the first is the root, the others its children."""
    question = "How do I return a damaged blender? " + _text(rng, rng.randint(20, 60))
    root_id = rng.randbytes(8)
    spans: list[Span] = []
    t = start_ns + 1_000_000
    for i in range(count):
        span = Span(
            trace_id=trace_id,
            span_id=root_id if i == 0 else rng.randbytes(8),
            parent_span_id=b"" if i == 0 else root_id,
            kind=Span.SPAN_KIND_INTERNAL if i else Span.SPAN_KIND_SERVER,
            status=Status(code=Status.STATUS_CODE_OK),
        )
        duration = rng.randint(5, 900) * 1_000_000
        if i == 0:
            span.name = "RAG agent"
            span.start_time_unix_nano = start_ns
            span.end_time_unix_nano = start_ns + 4_000_000_000
            _attrs(span, {
                "openinference.span.kind": "CHAIN",
                "session.id": f"sess-{rng.randrange(10**8):08d}",
                "user.id": f"user-{rng.randrange(10**5)}",
                "input.value": question,
                "output.value": _text(rng, rng.randint(250, 450)),
                "metadata": '{"app_version": "2.3.1", "route": "/support/chat"}',
            })  # fmt: skip
        else:
            span.start_time_unix_nano = t
            span.end_time_unix_nano = t + duration
            t += duration // 2
            kind = ("RETRIEVER", "LLM", "TOOL", "LLM", "EMBEDDING")[i % 5]
            if kind == "RETRIEVER":
                span.name = "retrieve_docs"
                items: dict[str, str | int | float | bool] = {
                    "openinference.span.kind": "RETRIEVER",
                    "input.value": question,
                }
                for d in range(3):
                    items[f"retrieval.documents.{d}.document.id"] = f"kb-{rng.randrange(10**6)}"
                    items[f"retrieval.documents.{d}.document.score"] = round(rng.random(), 3)
                    items[f"retrieval.documents.{d}.document.content"] = _text(
                        rng, rng.randint(80, 150)
                    )
                _attrs(span, items)
            elif kind == "LLM":
                span.name = "ChatOpenAI"
                span.kind = Span.SPAN_KIND_CLIENT
                _attrs(span, _llm_attrs(rng, question))
            elif kind == "TOOL":
                span.name = "lookup_order"
                _attrs(span, {
                    "openinference.span.kind": "TOOL",
                    "tool.name": "lookup_order",
                    "tool.description": "Find an order by number and return its status.",
                    "input.value": f'{{"order_id": "A-{rng.randrange(10**7)}"}}',
                    "output.value": _text(rng, rng.randint(250, 450)),
                })  # fmt: skip
            else:
                span.name = "embed_query"
                _attrs(span, {
                    "openinference.span.kind": "EMBEDDING",
                    "embedding.model_name": "text-embedding-3-small",
                    "embedding.embeddings.0.embedding.text": question,
                    "gen_ai.usage.input_tokens": rng.randint(10, 60),
                    "input.value": _text(rng, rng.randint(250, 500)),
                })  # fmt: skip
        spans.append(span)
    return spans


def _request(
    rng: random.Random, marker: bytes, spans: int, traces: int
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    _attrs_resource = {
        "service.name": "support-bot",
        "service.version": "2.3.1",
        "deployment.environment": "prod",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.27.0",
    }
    rs.resource.attributes.extend(_kv(k, v) for k, v in _attrs_resource.items())
    ss = rs.scope_spans.add()
    ss.scope.name = "openinference.instrumentation.langchain"
    ss.scope.version = "0.1.28"
    per_trace = [spans // traces + (1 if i < spans % traces else 0) for i in range(traces)]
    now = time.time_ns()
    for count in per_trace:
        trace_id = rng.randbytes(8) + marker
        ss.spans.extend(_trace_spans(rng, trace_id, count, now - rng.randint(0, 10**10)))
    return request


@dataclass(frozen=True)
class Template:
    """One encoded request whose trace ids end in ``marker``; ``body(seq)`` renumbers them."""

    encoded: bytes
    marker: bytes
    prefixes: tuple[bytes, ...]  # the 8 leading bytes of each trace id, in request order
    spans: int

    def body(self, seq: int) -> bytes:
        return self.encoded.replace(self.marker, seq_bytes(seq))

    def trace_keys(self, seq: int) -> list[bytes]:
        """The Kafka keys (hex trace ids) the receiver publishes for request ``seq``."""
        tail = seq_bytes(seq)
        return [(prefix + tail).hex().encode() for prefix in self.prefixes]


def seq_bytes(seq: int) -> bytes:
    """Suffix of the trace ids of request ``seq``: high bit set, so never all zeros."""
    return struct.pack(">Q", seq | (1 << 63))


def make_templates(count: int, spans: int, traces: int, seed: int = 7) -> list[Template]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        while True:
            marker = os.urandom(MARKER_LEN)
            request = _request(rng, marker, spans, traces)
            encoded = request.SerializeToString()
            if encoded.count(marker) == spans:  # only in trace_id fields (always, in practice)
                break
        prefixes: list[bytes] = []
        for span in request.resource_spans[0].scope_spans[0].spans:
            prefix = span.trace_id[:8]
            if prefix not in prefixes:
                prefixes.append(prefix)
        out.append(Template(encoded, marker, tuple(prefixes), spans))
    return out


@dataclass(frozen=True)
class TraceMessages:
    """What the receiver would publish for one template: (key, value) per trace, with marker."""

    template: Template
    messages: tuple[tuple[bytes, bytes], ...]  # (trace id prefix, encoded per-trace request)

    def for_seq(self, seq: int) -> list[tuple[bytes, bytes]]:
        tail = seq_bytes(seq)
        marker = self.template.marker
        return [((p + tail).hex().encode(), v.replace(marker, tail)) for p, v in self.messages]


def split_messages(template: Template) -> TraceMessages:
    """The receiver's own split (``split_by_trace`` + ``encode_for_topic``) of a template."""
    from pipeline.ingest.receiver.codec import (
        PROTOBUF,
        encode_for_topic,
        parse_request,
        split_by_trace,
    )

    split = split_by_trace(parse_request(template.encoded, PROTOBUF))
    messages = []
    for trace_hex, message in split.traces.items():
        value = encode_for_topic(message, "otlp_proto")
        messages.append((bytes.fromhex(trace_hex)[:8], value))
    return TraceMessages(template, tuple(messages))
