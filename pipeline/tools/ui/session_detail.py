"""One session: its session-evaluator results per version, and its turns with their results.

The session's rows in the ``sessions`` dataset are found through the session-id index; its
turns through the ``traces`` dataset's session-id index (the latest version of each trace, in
time order), or, where trace content is not stored, through the trace ids the sessions rows
list. Each turn's trace-evaluator results come from the results dataset, read only in the
hour partitions its traces are in.
"""

from __future__ import annotations

from typing import Any

from pipeline.tools.ui.exceptions import TraceNotFoundError
from pipeline.tools.ui.key_index import files_with_any, hours_with
from pipeline.tools.ui.store import Store
from pipeline.tools.ui.trace_detail import _decoded, _result, parse_json

TURN_LIMIT = 500
SESSION_FIELDS = (
    "session_version, closed_by, first_trace_time, last_trace_time, turn_count, trace_ids,"
    " evaluator, evaluator_version, score, passed, label, rationale, error, eval_latency_ms,"
    " metadata_json, app"
)
TURN_RESULT_FIELDS = (
    "trace_id, trace_version, evaluator, evaluator_version, score, passed, label, rationale,"
    " error, eval_latency_ms, source, span_id, metadata_json"
)


def _closings(store: Store, session_id: str) -> list[dict[str, Any]]:
    if not store.available("sessions"):
        return []
    sessions = store.source("sessions", hours=hours_with(store, "sessions", "session_id",
                                                         session_id))  # fmt: skip
    rows = store.rows(
        f"SELECT {SESSION_FIELDS} FROM {sessions.sql} WHERE session_id = ?"
        " ORDER BY first_trace_time, session_version, evaluator",
        [*sessions.params, session_id],
    )
    by_version: dict[tuple[Any, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["first_trace_time"], row["session_version"])
        closing = by_version.setdefault(key, {
            name: row[name] for name in ("session_version", "closed_by", "first_trace_time",
                                         "last_trace_time", "turn_count", "app")
        } | {"trace_ids": list(row["trace_ids"] or []), "results": []})  # fmt: skip
        result = {k: row[k] for k in ("evaluator", "evaluator_version", "score", "passed",
                                      "label", "rationale", "error")}  # fmt: skip
        result["metadata"] = parse_json(row["metadata_json"], False) or {}
        closing["results"].append(result)
    return list(by_version.values())


def _turn_rows(store: Store, session_id: str, trace_ids: list[str]) -> list[dict[str, Any]]:
    if store.available("traces"):
        traces = store.source("traces", hours=hours_with(store, "traces", "session_id",
                                                         session_id))  # fmt: skip
        rows = store.rows(
            f"SELECT * FROM {traces.sql} WHERE session_id = ?"
            " QUALIFY row_number() OVER (PARTITION BY trace_id ORDER BY trace_version DESC) = 1"
            " ORDER BY timestamp, trace_id LIMIT ?",
            [*traces.params, session_id, TURN_LIMIT],
        )
        if rows:
            return rows
    return [{"trace_id": trace_id} for trace_id in trace_ids[:TURN_LIMIT]]


def _turn_results(store: Store, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    ids = [row["trace_id"] for row in rows]
    if not ids or not store.available("results"):
        return {}
    hours = frozenset(r["timestamp"].replace(minute=0, second=0, microsecond=0)
                      for r in rows if r.get("timestamp"))  # fmt: skip
    only = None if hours else files_with_any(store, "results", "trace_id", ids)
    results = store.source("results", hours=hours or None, only=only)
    found = store.rows(
        f"SELECT {TURN_RESULT_FIELDS} FROM {results.sql} WHERE list_contains(?, trace_id)"
        " ORDER BY trace_id, evaluator, span_id NULLS FIRST",
        [*results.params, ids],
    )
    versions = {row["trace_id"]: row.get("trace_version") for row in rows}
    out: dict[str, list[dict[str, Any]]] = {}
    for r in found:
        wanted = versions.get(r["trace_id"])
        if wanted is not None and r["trace_version"] != wanted:
            continue
        out.setdefault(r["trace_id"], []).append(_result({k: v for k, v in r.items()
                                                          if k not in ("trace_id",)}))  # fmt: skip
    return out


def load_session(store: Store, session_id: str) -> dict[str, Any]:
    """The detail of one session; ``TraceNotFoundError`` when nothing names it."""
    closings = _closings(store, session_id)
    trace_ids = closings[-1]["trace_ids"] if closings else []
    rows = _turn_rows(store, session_id, trace_ids)
    if not closings and not (rows and "timestamp" in rows[0]):
        raise TraceNotFoundError(f"no stored session or trace has session id {session_id!r}")
    results = _turn_results(store, rows)
    turns = []
    for number, row in enumerate(rows, 1):
        turn = {"number": number, "trace_id": row["trace_id"], "results": results.get(
            row["trace_id"], [])}  # fmt: skip
        if "timestamp" in row:
            turn |= {k: row[k] for k in ("timestamp", "status", "latency_ms", "error",
                                         "trace_version")}  # fmt: skip
            turn |= _decoded(row, ("inputs", "outputs"))
        turns.append(turn)
    return {
        "session_id": session_id,
        "closings": closings,
        "latest": closings[-1] if closings else None,
        "turns": turns,
        "content_stored": bool(rows and "timestamp" in rows[0]),
    }
