"""One trace as stored: content, every evaluation result, spans and its session's other traces.

The trace row, its results and its spans are each read from the files the id indexes
(:mod:`pipeline.tools.ui.key_index`) name, usually one file a dataset, and the trace's
timestamp further limits results and spans to its ``date=/hour=`` partition, so a detail reads
a few files however large the datasets are. With several versions of a trace the latest is
shown unless another is asked for, and the answer says so. Where only results are stored
(older data), the answer carries the results and says that the content is not stored.
"""

from __future__ import annotations

from typing import Any

import orjson

from pipeline.tools.ui.exceptions import TraceNotFoundError
from pipeline.tools.ui.key_index import paths_with
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.waterfall import tree_order

SESSION_LIMIT = 50
RESULT_FIELDS = (
    "evaluator, evaluator_version, score, passed, label, rationale, error, eval_latency_ms,"
    " source, span_id, metadata_json, trace_version"
)
TRACE_FIELDS = (
    "trace_id", "timestamp", "app", "model", "status", "latency_ms", "input_tokens",
    "output_tokens", "cost_usd", "kafka_topic", "kafka_partition", "kafka_offset",
)  # fmt: skip


def dump_json(value: Any, indent: bool = False) -> bytes:
    """The API's JSON: UTC times as ISO-8601 strings ending in ``Z``."""
    option = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(value, option=option | (orjson.OPT_INDENT_2 if indent else 0))


def parse_json(text: str | None, truncated: bool) -> Any:
    """Stored JSON text as a value; cut or invalid text stays text (it is shown, not parsed)."""
    if text is None or truncated:
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _decoded(row: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    cut = set(row.get("truncated_fields") or ())
    return {name: parse_json(row.get(f"{name}_json"), f"{name}_json" in cut) for name in names}


def _result(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["latency_ms"] = out.pop("eval_latency_ms")
    out["metadata"] = parse_json(out.pop("metadata_json"), False) or {}
    return out


def _trace_rows(store: Store, trace_id: str) -> list[dict[str, Any]]:
    if not store.available("traces"):
        return []
    traces = store.source("traces", only=paths_with(store, "traces", "trace_id", trace_id))
    return store.rows(
        f"SELECT * FROM {traces.sql} WHERE trace_id = ? ORDER BY trace_version DESC",
        [*traces.params, trace_id],
    )


def _results(store: Store, trace_id: str, row: dict[str, Any] | None) -> list[dict[str, Any]]:
    when = row["timestamp"] if row else None
    only = paths_with(store, "results", "trace_id", trace_id)  # the results' own index
    results = store.source("results", when, when, only=only)
    by_time = " AND timestamp = ?" if row else ""
    return store.rows(
        f"SELECT {RESULT_FIELDS}, {', '.join(TRACE_FIELDS)} FROM {results.sql}"
        f" WHERE trace_id = ?{by_time} ORDER BY evaluator, span_id NULLS FIRST",
        [*results.params, trace_id, *([when] if row else [])],
    )


def _spans(store: Store, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The trace version's spans in tree order (parents before children, by start time)."""
    if not store.available("spans"):
        return []
    only = paths_with(store, "spans", "trace_id", row["trace_id"])  # not all the hour's files
    spans = store.source("spans", row["timestamp"], row["timestamp"], only=only)
    found = store.rows(
        f"SELECT * FROM {spans.sql} WHERE trace_id = ? AND trace_version = ?",
        [*spans.params, row["trace_id"], row["trace_version"]],
    )
    keep = ("span_id", "parent_id", "name", "span_type", "start_time", "end_time", "status")
    spans = [
        {**{k: s[k] for k in keep}, **_decoded(s, ("inputs", "outputs", "attributes")),
         "truncated_fields": list(s["truncated_fields"] or [])}
        for s in found
    ]  # fmt: skip
    return [span for span, _ in tree_order(spans)]


def _session(store: Store, row: dict[str, Any]) -> list[dict[str, Any]]:
    if not row.get("session_id"):
        return []
    only = paths_with(store, "traces", "session_id", row["session_id"])
    traces = store.source("traces", only=only)
    return store.rows(
        f"SELECT DISTINCT trace_id, timestamp, status, latency_ms FROM {traces.sql}"
        " WHERE session_id = ? AND trace_id <> ? ORDER BY timestamp LIMIT ?",
        [*traces.params, row["session_id"], row["trace_id"], SESSION_LIMIT],
    )


def load_trace(store: Store, trace_id: str, version: int | None = None) -> dict[str, Any]:
    """The detail of one trace (``version``: that trace version, default the latest)."""
    rows = _trace_rows(store, trace_id)
    versions = sorted({r["trace_version"] for r in rows})
    row = next((r for r in rows if version is None or r["trace_version"] == version), None)
    if rows and row is None:
        raise TraceNotFoundError(f"trace {trace_id!r} has no version {version} (has {versions})")
    all_results = _results(store, trace_id, row)
    if row is None and not all_results:
        raise TraceNotFoundError(f"no stored trace or result has trace id {trace_id!r}")
    if row is None:  # results only: the latest version among them
        versions = sorted({r["trace_version"] for r in all_results})
        shown = version if version is not None else versions[-1]
        if shown not in versions:
            raise TraceNotFoundError(f"trace {trace_id!r} has no version {version}")
        summary = next(r for r in all_results if r["trace_version"] == shown)
        detail = {name: summary[name] for name in TRACE_FIELDS}
        detail |= {"trace_version": shown, "content_stored": False, "truncated_fields": []}
    else:
        shown = row["trace_version"]
        detail = {name: row[name] for name in TRACE_FIELDS}
        detail |= {
            "trace_version": shown, "content_stored": True, "session_id": row["session_id"],
            "user_id": row["user_id"], "error": row["error"],
            **_decoded(row, ("inputs", "outputs", "context", "expectations", "tags")),
            "truncated_fields": list(row["truncated_fields"] or []),
        }  # fmt: skip
    detail["versions"] = versions
    detail["latest_version"] = versions[-1]
    detail["results"] = [
        _result({k: r[k] for k in r if k not in TRACE_FIELDS})
        for r in all_results
        if r["trace_version"] == shown
    ]
    detail["spans"] = _spans(store, row) if row else []
    detail["session_traces"] = _session(store, row) if row else []
    return detail
