"""Turn the spans of one trace into a ``schemas.Trace`` dict.

Per-span reading is in ``span_facts``; here are the trace-level rules:

* the root (no parent, or parent not among the spans) gives timestamp and latency, and
  inputs/outputs; when the root carries none, the earliest span with inputs and the
  latest-ending span with outputs stand in (frameworks often leave the root bare);
* tokens are summed over spans reporting usage that have no usage-reporting descendant, so a
  parent that repeats its children's usage is not counted twice;
* model from the first LLM span, context from retriever spans in start order;
* any failing span (error status or ``exception`` event) makes the trace ERROR, and its id
  goes to ``tags["error_span_id"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pipeline.ingest.exceptions import IngestError
from pipeline.ingest.spans.facts import SpanFacts, interpret
from pipeline.ingest.spans.values import json_size, ns_to_iso

MAX_ATTRIBUTE_BYTES = 10_000
_MAPPED_KEYS = frozenset({"mlflow.spanInputs", "mlflow.spanOutputs", "input.value", "output.value"})
_TAG_ATTRIBUTES = {
    "session.id": "session_id",
    "user.id": "user_id",
    "gen_ai.conversation.id": "session_id",
    "mlflow.trace.session": "session_id",
    "mlflow.trace.user": "user_id",
    "langfuse.session.id": "session_id",
    "langfuse.user.id": "user_id",
    "ai.telemetry.functionId": "function_id",
}


def _span_key(span: dict[str, Any]) -> Any:
    return span.get("span_id")


def dedupe(spans: Iterable[Any], key: Callable[[Any], Any] = _span_key) -> list[Any]:
    """Drop re-delivered copies of a span (same span id); the first copy wins."""
    seen: set[Any] = set()
    unique = []
    for span in spans:
        ident = key(span) or id(span)
        if ident not in seen:
            seen.add(ident)
            unique.append(span)
    return unique


def spans_to_trace(spans: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    """Build a trace dict (valid for ``schemas.Trace``) from the normalized spans of one trace.

    ``overrides`` replace computed trace fields (an export's own trace id, latency, ...);
    ``tags`` given there are merged into the computed tags.
    """
    unique = dedupe(spans)
    if not unique:
        raise IngestError("expected at least one span to build a trace from")
    return build_trace([interpret(span) for span in unique], **overrides)


def _order(facts: list[SpanFacts]) -> tuple[list[SpanFacts], dict[Any, int]]:
    """Start-time order (arrival order is meaningless) and the depth of every span."""
    by_id = {f.span_id: f for f in facts}
    depth: dict[Any, int] = {}
    for fact in facts:
        steps, node, seen = 0, fact, {fact.span_id}
        # No parent id means a root, even when a span without an id of its own is present.
        while node.parent_id is not None and node.parent_id in by_id and node.parent_id not in seen:
            seen.add(node.parent_id)
            node, steps = by_id[node.parent_id], steps + 1
        depth[fact.span_id] = steps
    big = 1 << 62
    ordered = sorted(facts, key=lambda f: (f.start_ns or big, depth[f.span_id]))
    return ordered, depth


def _root(ordered: list[SpanFacts], depth: dict[Any, int]) -> SpanFacts:
    roots = [f for f in ordered if depth[f.span_id] == 0] or ordered  # all in a cycle: any
    return max(roots, key=lambda f: ((f.end_ns or 0) - (f.start_ns or 0), -(f.start_ns or 0)))


def _usage_spans(facts: list[SpanFacts]) -> list[SpanFacts]:
    """Usage-reporting spans without a usage-reporting descendant (leaf-most reports)."""
    by_id = {f.span_id: f for f in facts}
    covered: set[Any] = set()
    for fact in facts:
        if not fact.has_usage:
            continue
        parent, seen = fact.parent_id, set()
        while parent in by_id and parent not in seen:
            seen.add(parent)
            covered.add(parent)
            parent = by_id[parent].parent_id
    return [f for f in facts if f.has_usage and f.span_id not in covered]


def _usage(facts: list[SpanFacts], root: SpanFacts) -> tuple[dict[str, int] | None, float | None]:
    chosen = _usage_spans(facts)
    costs = [f.cost_usd for f in chosen if f.cost_usd is not None]
    cost = round(sum(costs), 12) if costs else None
    aggregate = root.trace_usage or next((f.trace_usage for f in facts if f.trace_usage), None)
    if aggregate:  # MLflow already summed it for us
        keys = ("input_tokens", "output_tokens", "total_tokens")
        return {k: int(aggregate[k]) for k in keys if aggregate.get(k) is not None}, cost
    if not chosen:
        return None, cost

    def total(values: list[int | None]) -> int | None:
        present = [v for v in values if v is not None]
        return sum(present) if present else None

    usage = {
        "input_tokens": total([f.input_tokens for f in chosen]),
        "output_tokens": total([f.output_tokens for f in chosen]),
        "total_tokens": total(
            [
                f.total_tokens
                if f.total_tokens is not None
                else (f.input_tokens or 0) + (f.output_tokens or 0)
                for f in chosen
            ]
        ),
    }
    return {k: v for k, v in usage.items() if v is not None}, cost


def _app(resource: dict[str, Any]) -> str | None:
    """``service.name``, unless it is the SDK default ``unknown_service[:<process>]``."""
    name = resource.get("service.name")
    if not name or str(name).startswith("unknown_service"):
        return None
    return str(name)


def _tags(facts: list[SpanFacts], root: SpanFacts, error_span: SpanFacts | None) -> dict[str, str]:
    tags: dict[str, str] = {}
    app = _app(root.resource) or next((a for f in facts if (a := _app(f.resource))), None)
    if app:
        tags["app"] = app
    for fact in facts:
        for key, tag in _TAG_ATTRIBUTES.items():
            value = fact.attributes.get(key)
            if value not in (None, "") and tag not in tags:
                tags[tag] = str(value)
    if root.trace_id and root.mlflow_trace_id and root.trace_id != root.mlflow_trace_id:
        tags["otel_trace_id"] = root.trace_id
    if error_span is not None and error_span.span_id:
        tags["error_span_id"] = error_span.span_id
    return tags


def span_dict(fact: SpanFacts) -> dict[str, Any]:
    """The ``schemas.Span`` form of a span; oversized and already-mapped attributes dropped."""
    attributes = {
        key: value
        for key, value in fact.attributes.items()
        if key not in _MAPPED_KEYS and json_size(value) <= MAX_ATTRIBUTE_BYTES
    }
    return {
        "span_id": fact.span_id,
        "parent_id": fact.parent_id,
        "name": fact.name,
        "span_type": fact.span_type,
        "start_time": ns_to_iso(fact.start_ns),
        "end_time": ns_to_iso(fact.end_ns),
        "status": fact.status,
        "inputs": fact.inputs,
        "outputs": fact.outputs,
        "attributes": attributes,
    }


def build_trace(facts: list[SpanFacts], **overrides: Any) -> dict[str, Any]:
    """Apply the trace-level rules (module docstring) to already interpreted spans."""
    ordered, depth = _order(dedupe(facts, key=lambda f: f.span_id))
    root = _root(ordered, depth)
    inputs = root.inputs
    if inputs is None:
        inputs = next((f.inputs for f in ordered if f.inputs is not None), None)
    outputs = root.outputs
    if outputs is None:
        with_outputs = [f for f in ordered if f.outputs is not None]
        if with_outputs:
            outputs = max(with_outputs, key=lambda f: (f.end_ns or 0, -depth[f.span_id])).outputs
    start = root.start_ns or min((f.start_ns for f in ordered if f.start_ns), default=None)
    end = root.end_ns or max((f.end_ns for f in ordered if f.end_ns), default=None)
    failing = [f for f in ordered if f.status == "ERROR"]
    error_span = root if root.status == "ERROR" else (failing[0] if failing else None)
    usage, cost = _usage(ordered, root)
    retrievers = [f for f in ordered if f.documents is not None]
    llm_models = [f.model for f in ordered if f.model and f.is_llm]
    any_models = [f.model for f in ordered if f.model]
    trace: dict[str, Any] = {
        "trace_id": root.mlflow_trace_id or root.trace_id or root.span_id,
        "timestamp": ns_to_iso(start),
        "inputs": inputs,
        "outputs": outputs,
        "context": [doc for f in retrievers for doc in f.documents or []] if retrievers else None,
        "status": "ERROR" if error_span else "OK",
        "error": error_span.error if error_span else None,
        "latency_ms": round((end - start) / 1e6, 3) if start and end and end >= start else None,
        "model": (llm_models or any_models or [None])[0],
        "usage": usage,
        "cost_usd": cost,
        "tags": _tags(ordered, root, error_span),
        "spans": [span_dict(f) for f in ordered],
    }
    extra_tags = overrides.pop("tags", None) or {}
    trace.update({k: v for k, v in overrides.items() if v is not None})
    trace["tags"] = {**trace["tags"], **{k: str(v) for k, v in extra_tags.items() if v is not None}}
    if not trace.get("trace_id"):
        raise IngestError("expected spans with a trace id (or a trace_id override)")
    return {k: v for k, v in trace.items() if v is not None or k in ("inputs", "outputs")}
