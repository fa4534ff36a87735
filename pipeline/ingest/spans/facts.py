"""What one span says, whatever convention wrote it: MLflow, OpenInference, OTel GenAI,
Vercel AI SDK or Monocle attributes are read into one :class:`SpanFacts`.

Trace-level rules (root, token sums, context order) live in ``conventions``; this module only
looks at a single span, so a new convention is one more reader here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.ingest.spans.genai import event_messages, indexed_messages, openinference_messages
from pipeline.ingest.spans.values import loads_or_raw, maybe_json, to_float, to_int

LLM_TYPES = frozenset({"LLM", "CHAT_MODEL"})
_GENAI_OPS = {
    "chat": "LLM",
    "text_completion": "LLM",
    "generate_content": "LLM",
    "embeddings": "EMBEDDING",
    "execute_tool": "TOOL",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
}
_MODEL_KEYS = (
    "mlflow.llm.model",
    "llm.model_name",
    "gen_ai.response.model",
    "gen_ai.request.model",
    "ai.response.model",
    "ai.model.id",
)
_TOKEN_KEYS = (  # (input, output, total) per convention, first match wins
    ("llm.token_count.prompt", "llm.token_count.completion", "llm.token_count.total"),
    ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.total_tokens"),
    ("gen_ai.usage.prompt_tokens", "gen_ai.usage.completion_tokens", "llm.usage.total_tokens"),
    ("ai.usage.inputTokens", "ai.usage.outputTokens", "ai.usage.totalTokens"),
    ("ai.usage.promptTokens", "ai.usage.completionTokens", "ai.usage.totalTokens"),
    ("ai.usage.tokens", "", ""),  # embeddings: every token is an input token (no output)
)
_DOC_CONTENT = re.compile(r"^retrieval\.documents\.(\d+)\.document\.content$")


@dataclass
class SpanFacts:
    """Convention-free view of a span; ``None`` means the span did not say."""

    span_id: str | None
    parent_id: str | None
    name: str = ""
    span_type: str | None = None
    start_ns: int | None = None
    end_ns: int | None = None
    status: str = "OK"
    error: str | None = None
    inputs: Any = None
    outputs: Any = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    trace_usage: dict[str, Any] | None = None
    cost_usd: float | None = None
    documents: list[str] | None = None
    trace_id: str | None = None
    mlflow_trace_id: str | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def has_usage(self) -> bool:
        return any(v is not None for v in (self.input_tokens, self.output_tokens))

    @property
    def is_llm(self) -> bool:
        return self.span_type in LLM_TYPES


def _is_mlflow(attrs: dict[str, Any]) -> bool:
    return "mlflow.traceRequestId" in attrs or "mlflow.spanType" in attrs


def decode_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """MLflow JSON-encodes every attribute value it sets; undo that for MLflow spans only."""
    if not _is_mlflow(attrs):
        return dict(attrs)
    return {key: loads_or_raw(value) for key, value in attrs.items()}


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if attrs.get(key) not in (None, ""):
            return attrs[key]
    return None


def span_type_of(attrs: dict[str, Any]) -> str | None:
    """MLflow spanType, then OpenInference kind, then GenAI operation, Vercel, Monocle."""
    explicit = _first(attrs, "mlflow.spanType", "openinference.span.kind")
    if explicit:
        return str(explicit).upper()
    operation = attrs.get("gen_ai.operation.name")
    if operation in _GENAI_OPS:
        return _GENAI_OPS[operation]
    vercel = str(attrs.get("ai.operationId") or "")
    if vercel.startswith("ai."):
        if vercel.endswith((".doGenerate", ".doStream")):
            return "LLM"
        if vercel.endswith(".doEmbed"):
            return "EMBEDDING"
        return "TOOL" if vercel == "ai.toolCall" else "CHAIN"
    monocle = str(attrs.get("span.type") or "")
    if monocle.startswith("inference"):
        return "LLM"
    if monocle.startswith("retrieval"):
        return "RETRIEVER"
    if monocle.startswith("agentic.tool"):
        return "TOOL"
    if monocle.startswith("agentic"):
        return "AGENT"
    if monocle == "workflow":
        return "CHAIN"
    if _first(attrs, "gen_ai.request.model", "gen_ai.response.model", "llm.model_name"):
        return "LLM"
    return None


def _model(attrs: dict[str, Any]) -> str | None:
    model = _first(attrs, *_MODEL_KEYS)
    if model:
        return str(model)
    for key, value in attrs.items():  # Monocle: entity.N.type = model.llm.<name>
        if (
            key.startswith("entity.")
            and key.endswith(".type")
            and str(value).startswith("model.llm.")
        ):
            name = attrs.get(key[: -len("type")] + "name")
            return str(name or str(value).removeprefix("model.llm."))
    return None


def _tokens(attrs: dict[str, Any], events: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
    usage = attrs.get("mlflow.chat.tokenUsage")
    if isinstance(usage, dict):
        return usage.get("input_tokens"), usage.get("output_tokens"), usage.get("total_tokens")
    for keys in _TOKEN_KEYS:
        values = tuple(to_int(attrs.get(key)) for key in keys)
        if values[0] is not None or values[1] is not None:
            return values
    for event in events:  # Monocle puts usage in a "metadata" event
        ev = event.get("attributes") or {}
        if event.get("name") == "metadata" and "prompt_tokens" in ev:
            return ev.get("prompt_tokens"), ev.get("completion_tokens"), ev.get("total_tokens")
    return None, None, None


def _value(attrs: dict[str, Any], key: str) -> Any:
    """OpenInference ``input.value``: decode when ``input.mime_type`` says JSON."""
    value = attrs.get(key)
    mime = str(attrs.get(key.replace(".value", ".mime_type")) or "")
    return loads_or_raw(value) if "json" in mime else value


def _io(attrs: dict[str, Any], events: list[dict[str, Any]]) -> tuple[Any, Any]:
    inputs = attrs.get("mlflow.spanInputs")
    outputs = attrs.get("mlflow.spanOutputs")
    if inputs is None:
        inputs = _value(attrs, "input.value")
    if outputs is None:
        outputs = _value(attrs, "output.value")
    if inputs is None:
        inputs = openinference_messages(attrs, "llm.input_messages")
    if outputs is None:
        outputs = openinference_messages(attrs, "llm.output_messages")
    if inputs is None:
        inputs = maybe_json(
            _first(
                attrs, "gen_ai.input.messages", "gen_ai.prompt", "ai.prompt", "ai.prompt.messages"
            )
        )
    if outputs is None:
        outputs = maybe_json(
            _first(attrs, "gen_ai.output.messages", "gen_ai.completion", "ai.response.text")
        )
    if outputs is None:
        outputs = maybe_json(_first(attrs, "ai.response.object", "ai.response.toolCalls"))
    if inputs is None:  # Vercel embeddings
        inputs = maybe_json(attrs.get("ai.value"))
        if inputs is None and isinstance(attrs.get("ai.values"), list):
            inputs = [maybe_json(v) for v in attrs["ai.values"]]
    if inputs is None:
        inputs = indexed_messages(attrs, "gen_ai.prompt")
    if outputs is None:
        outputs = indexed_messages(attrs, "gen_ai.completion")
    if inputs is None or outputs is None:
        ev_in, ev_out = event_messages(events)
        inputs = ev_in if inputs is None else inputs
        outputs = ev_out if outputs is None else outputs
    for event in events:  # Monocle data.input / data.output events
        ev = event.get("attributes") or {}
        if inputs is None and event.get("name") == "data.input" and ev.get("input") is not None:
            inputs = maybe_json(ev["input"])
        if outputs is None and event.get("name") == "data.output" and "response" in ev:
            outputs = maybe_json(ev["response"])
    return inputs, outputs


def documents_from(value: Any) -> list[str] | None:
    """Retrieved documents as texts: MLflow ``Document`` dicts, LangChain docs, strings."""
    value = maybe_json(value)
    if isinstance(value, dict):
        value = _first(value, "documents", "docs", "results")
    if not isinstance(value, list):
        return None
    texts = []
    for doc in value:
        if isinstance(doc, dict):
            doc = _first(doc, "page_content", "content", "text", "document")
        if isinstance(doc, str):
            texts.append(doc)
    return texts or None


def _documents(attrs: dict[str, Any], span_type: str | None, outputs: Any) -> list[str] | None:
    indexed = {}
    for key, value in attrs.items():
        match = _DOC_CONTENT.match(key)
        if match and value is not None:
            indexed[int(match.group(1))] = str(value)
    if indexed:
        return [indexed[i] for i in sorted(indexed)]
    return documents_from(outputs) if span_type == "RETRIEVER" else None


def _error(span: dict[str, Any]) -> str | None:
    """Error text from an ``exception`` event and the status description; None when healthy.

    The exception's type and message say what failed; the status description often says only
    where ("tool failed"): both are kept; when one contains the other (the OTel SDK sets the
    description to ``"Type: message"`` itself), the longer one alone.
    """
    failed = span.get("status_code") == "ERROR"
    described = span.get("status_message")
    for event in span.get("events") or []:
        if event.get("name") == "exception":
            ev = event.get("attributes") or {}
            kind, message = ev.get("exception.type"), ev.get("exception.message")
            text = f"{kind}: {message}" if kind and message else (message or kind)
            if not text:
                return described or "exception"
            if not described or described in text:
                return text
            return described if text in described else f"{text} (status: {described})"
    return (described or "error") if failed else None


def interpret(span: dict[str, Any]) -> SpanFacts:
    """Read one normalized span (see ``otlp_json``) into :class:`SpanFacts`."""
    attrs = decode_attributes(span.get("attributes") or {})
    events = span.get("events") or []
    span_type = span_type_of(attrs)
    inputs, outputs = _io(attrs, events)
    tokens_in, tokens_out, total = _tokens(attrs, events)
    error = _error(span)
    trace_usage = attrs.get("mlflow.trace.tokenUsage")
    mlflow_id = attrs.get("mlflow.traceRequestId")
    return SpanFacts(
        span_id=span.get("span_id"),
        parent_id=span.get("parent_span_id"),
        name=span.get("name") or "",
        span_type=span_type,
        start_ns=span.get("start_ns"),
        end_ns=span.get("end_ns"),
        status="ERROR" if error else "OK",
        error=error,
        inputs=inputs,
        outputs=outputs,
        model=_model(attrs),
        input_tokens=to_int(tokens_in),
        output_tokens=to_int(tokens_out),
        total_tokens=to_int(total),
        trace_usage=trace_usage if isinstance(trace_usage, dict) else None,
        cost_usd=to_float(_first(attrs, "llm.cost.total", "gen_ai.usage.cost")),
        documents=_documents(attrs, span_type, outputs),
        trace_id=span.get("trace_id"),
        mlflow_trace_id=str(mlflow_id) if mlflow_id else None,
        resource=span.get("resource") or {},
        attributes=attrs,
    )
