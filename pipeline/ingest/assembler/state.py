"""What the span assembler remembers per trace id, as plain JSON-able dicts.

Kept free of faust so the rules (merge, when a trace is due, what is left after emitting) are
easy to test. One table entry per trace id::

    {"p": source partition, "spans": {span_id: normalized span} (not yet emitted),
     "first": wall time of the first pending span, "last": of the latest one,
     "root_end": wall time an ended root span arrived (or None),
     "version": versions emitted so far, "emitted_at": wall time of the last emission,
     "done": span ids already emitted, "tid": trace_id of the emitted version 1,
     "emitted": {span_id: span} already emitted (kept for the next version, bounded),
     "partial": True once the emitted spans outgrew the bound and were dropped}

Times are wall-clock seconds (``time.time()``), not monotonic: entries outlive the process
through the changelog, and a restarted worker must still know how long a trace has waited.
After an emission the entry becomes a marker (no pending spans; ``done``, ``version`` and the
emitted spans kept), so a late span re-emits the *whole* trace as version 2 (re-scored as a
whole: no false ``empty_output`` for a trace of one feedback span), and a re-delivered span
that was already emitted is ignored. The emitted spans are kept only up to
``Timing.keep_emitted_bytes``; past it the marker keeps ids only and a later version holds the
late spans alone, tagged ``evalstream.trace_partial``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pipeline.ingest.spans.conventions import spans_to_trace

VERSION_TAG = "evalstream.trace_version"
PARTIAL_TAG = "evalstream.trace_partial"
MAX_ENTRY_BYTES = 512 * 1024  # emit early rather than exceed Kafka's 1 MB message limit


@dataclass(frozen=True)
class Timing:
    grace_seconds: float
    max_wait_seconds: float
    marker_ttl_seconds: float = 3600.0
    keep_emitted_bytes: int = 256 * 1024


def merge(
    entry: dict[str, Any] | None, spans: list[dict[str, Any]], partition: int, now: float
) -> tuple[dict[str, Any] | None, int]:
    """The entry with ``spans`` added (duplicates by span id dropped); None if nothing new."""
    if entry is None:
        entry = {"p": partition, "spans": {}, "version": 0, "done": []}
    done = set(entry.get("done") or ())
    pending = dict(entry.get("spans") or {})
    added = 0
    root_seen = False
    for span in spans:
        span_id = span.get("span_id")
        if not span_id or span_id in pending or span_id in done:
            continue
        pending[span_id] = span
        added += 1
        root_seen = root_seen or (span.get("parent_span_id") is None and bool(span.get("end_ns")))
    if not added:
        return None, 0
    updated = {**entry, "p": partition, "spans": pending, "last": now}
    if not entry.get("spans"):
        updated["first"] = now
        updated["root_end"] = None
    if root_seen and updated.get("root_end") is None:
        updated["root_end"] = now
    kept = entry.get("emitted") or {}
    updated["full"] = len(orjson.dumps(pending)) + len(orjson.dumps(kept)) > MAX_ENTRY_BYTES
    return updated, added


def is_pending(entry: dict[str, Any]) -> bool:
    return bool(entry.get("spans"))


def is_due(entry: dict[str, Any], now: float, timing: Timing) -> bool:
    """Root ended + grace, or max wait since first seen; late spans: grace after the last."""
    if not is_pending(entry):
        return False
    if entry.get("full"):
        return True
    root_end = entry.get("root_end")
    if root_end is not None and now - root_end >= timing.grace_seconds:
        return True
    if entry.get("version", 0) and now - entry.get("last", now) >= timing.grace_seconds:
        return True
    return now - entry.get("first", now) >= timing.max_wait_seconds


def is_expired(entry: dict[str, Any], now: float, timing: Timing) -> bool:
    """A marker of an emitted trace that is old enough to forget."""
    emitted = entry.get("emitted_at")
    if is_pending(entry) or emitted is None:
        return False
    return now - emitted >= timing.marker_ttl_seconds


def build_trace(entry: dict[str, Any]) -> dict[str, Any]:
    """The trace to emit: every span of the trace, earlier versions' spans included.

    A later version keeps version 1's trace_id (late spans may lack what named it, such as
    MLflow's ``mlflow.traceRequestId``). When the earlier spans were not kept (the bound), the
    version holds the late spans only and says so.
    """
    version = entry.get("version", 0) + 1
    spans = [*(entry.get("emitted") or {}).values(), *entry["spans"].values()]
    tags = {VERSION_TAG: str(version)}
    if version > 1 and entry.get("partial"):
        tags[PARTIAL_TAG] = "true"
    trace = spans_to_trace(spans, trace_id=entry.get("tid"), tags=tags)
    return {**trace, "trace_version": version}  # the results' and datasets' trace_version column


def after_emit(
    entry: dict[str, Any],
    now: float,
    trace_id: str | None,
    keep_bytes: int = Timing.keep_emitted_bytes,
) -> dict[str, Any]:
    """The marker that replaces an emitted entry: ids always, the spans while small enough."""
    done = sorted({*(entry.get("done") or ()), *entry["spans"]})
    emitted = {**(entry.get("emitted") or {}), **entry["spans"]}
    partial = bool(entry.get("partial")) or len(orjson.dumps(emitted)) > keep_bytes
    return {
        "p": entry["p"],
        "spans": {},
        "version": entry.get("version", 0) + 1,
        "emitted_at": now,
        "done": done,
        "tid": entry.get("tid") or trace_id,
        "emitted": {} if partial else emitted,
        "partial": partial,
    }
