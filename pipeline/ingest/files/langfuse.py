"""Langfuse trace downloads (``{"trace": {...}, "observations": [...]}``) as traces.

Observations are already interpreted by Langfuse (type, model, usage, cost, level), so they
become :class:`SpanFacts` directly and share the trace-level rules of ``conventions``.
"""

from __future__ import annotations

from typing import Any

from pipeline.ingest.spans.conventions import build_trace
from pipeline.ingest.spans.facts import SpanFacts, documents_from, span_type_of
from pipeline.ingest.spans.values import maybe_json, to_float, to_int, to_ns

_TYPES = {"GENERATION": "LLM", "SPAN": None, "EVENT": "EVENT"}


def is_langfuse(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("trace"), dict)
        and ("observations" in obj or "observations" in obj["trace"])
    )


def _metadata(value: Any) -> dict[str, Any]:
    decoded = maybe_json(value)
    return decoded if isinstance(decoded, dict) else {}


def _usage(obs: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    details = obs.get("usageDetails") or obs.get("usage") or {}
    tokens_in = to_int(details.get("input", details.get("promptTokens")))
    tokens_out = to_int(details.get("output", details.get("completionTokens")))
    total = to_int(details.get("total", details.get("totalTokens")))
    if tokens_in is None and tokens_out is None and (obs.get("totalUsage") or 0) > 0:
        return to_int(obs.get("inputUsage")), to_int(obs.get("outputUsage")), obs["totalUsage"]
    return tokens_in, tokens_out, total


def _cost(obs: dict[str, Any]) -> float | None:
    cost = to_float((obs.get("costDetails") or {}).get("total"))
    for key in ("calculatedTotalCost", "totalCost"):
        if cost is None and to_float(obs.get(key)):
            cost = to_float(obs.get(key))
    return cost


def _facts(obs: dict[str, Any]) -> SpanFacts:
    meta = _metadata(obs.get("metadata"))
    attrs = meta.get("attributes") if isinstance(meta.get("attributes"), dict) else {}
    kind = str(obs.get("type") or "SPAN").upper()
    span_type = _TYPES.get(kind, kind) or span_type_of(attrs) or "UNKNOWN"
    if span_type == "SPAN":
        span_type = "UNKNOWN"
    outputs = maybe_json(obs.get("output"))
    failed = str(obs.get("level") or "").upper() == "ERROR"
    tokens_in, tokens_out, total = _usage(obs)
    resource = (
        meta.get("resourceAttributes") if isinstance(meta.get("resourceAttributes"), dict) else {}
    )
    return SpanFacts(
        span_id=obs.get("id"),
        parent_id=obs.get("parentObservationId"),
        name=obs.get("name") or "",
        span_type=span_type,
        start_ns=to_ns(obs.get("startTime")),
        end_ns=to_ns(obs.get("endTime")),
        status="ERROR" if failed else "OK",
        error=(obs.get("statusMessage") or "error") if failed else None,
        inputs=maybe_json(obs.get("input")),
        outputs=outputs,
        model=obs.get("model") or None,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        total_tokens=total,
        cost_usd=_cost(obs),
        documents=documents_from(outputs) if span_type == "RETRIEVER" else None,
        trace_id=obs.get("traceId"),
        resource=resource,
        attributes={"langfuse.type": kind, **({"level": obs["level"]} if obs.get("level") else {})},
    )


def _observations(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Top-level observations carry input/output; the copy nested in ``trace`` may not."""
    nested = obj["trace"].get("observations") or []
    top = obj.get("observations") or []
    by_id = {o.get("id"): o for o in nested}
    by_id.update({o.get("id"): o for o in top})
    return list(by_id.values())


def _tags(trace: dict[str, Any]) -> dict[str, str]:
    tags = {
        "trace_name": trace.get("name"),
        "environment": trace.get("environment"),
        "release": trace.get("release"),
        "version": trace.get("version"),
        "user_id": trace.get("userId"),
        "session_id": trace.get("sessionId"),
        "source": "langfuse",
    }
    if trace.get("tags"):
        tags["langfuse_tags"] = ",".join(str(t) for t in trace["tags"])
    return {k: str(v) for k, v in tags.items() if v not in (None, "")}


def langfuse_to_trace(obj: dict[str, Any]) -> dict[str, Any]:
    """Convert one Langfuse trace download into a trace dict."""
    trace = obj["trace"]
    facts = [_facts(o) for o in _observations(obj)]
    resource = _metadata(trace.get("metadata")).get("resourceAttributes") or {}
    if not facts:  # a trace without observations still has input/output
        facts = [SpanFacts(span_id=trace.get("id"), parent_id=None, name=trace.get("name") or "")]
    for fact in facts:
        fact.resource = fact.resource or resource
    latency = to_float(trace.get("latency"))
    return build_trace(
        facts,
        trace_id=trace.get("id"),
        timestamp=trace.get("timestamp"),
        inputs=maybe_json(trace.get("input")),
        outputs=maybe_json(trace.get("output")),
        latency_ms=round(latency * 1000, 3) if latency is not None else None,
        tags=_tags(trace),
    )
