"""Scored-trace messages -> the compact turns the session state keeps -> ``schemas.Session``.

A turn is what a session evaluator needs of a trace: its summary, its inputs and outputs
(bounded: a chat app that sends the whole history each turn would otherwise store it N times;
past ``text_bytes`` the turn keeps the question / answer text only, cut) and its results
(rationales cut). Built from the scored-trace message, so every turn comes with the results
the trace evaluators committed for it.

In the table a turn is a small dict of what the session window reads (``trace_id``,
``trace_version``, ``t``, ``ends``) and the rest as one JSON document, zlib-compressed and
base64-encoded (``zpacked``: the table's changelog is JSON), decoded only when its session
closes. The table holds up to ``EVALSTREAM_SESSION_MAX_OPEN`` sessions of turns: as nested
dicts a turn of the benchmark traces took 9.5 KB (tracemalloc), as one JSON string 4.4 KB;
the document compresses 2.5x (2,621 -> 1,073 B mean over 300 bench turns, 1,430 B in
base64; docs/performance.md, "Memory of the default set"). Turns written by an
earlier version, as a JSON string (``packed``) or inline (``trace`` and ``results``), are
still read.
"""

from __future__ import annotations

import base64
import zlib
from datetime import UTC, datetime
from typing import Any

import orjson

from evaluators.text import answer_text, question_text
from schemas import EvaluationResult, Trace
from schemas.datasets import clip_field
from schemas.session import ClosedBy, Session, SessionTurn, ends_session, session_id_of

RESULT_FIELDS = ("evaluator", "evaluator_version", "score", "passed", "label", "error", "span_id")
RATIONALE_BYTES = 500
ZLIB_LEVEL = 1
"""zlib's fastest level: 2.5x smaller than the JSON on the benchmark turns, level 6 only 4%
more, at ~45 µs per turn either way (and ~15 µs to read it back when the session closes)."""


def _bounded(value: Any, as_text: Any, limit: int) -> Any:
    if value is None or (isinstance(value, str) and len(value.encode()) <= limit):
        return value
    if not isinstance(value, str) and len(orjson.dumps(value, default=str)) <= limit:
        return value
    return clip_field(as_text(value), limit)[0]


def turn_of(message: dict[str, Any], text_bytes: int) -> dict[str, Any] | None:
    """The turn of one scored-trace message; None when the trace has no session id."""
    tags = message.get("tags") or {}
    session_id = session_id_of(tags)
    if session_id is None:
        return None
    body = message.get("body") or {}
    results = []
    for r in message.get("results") or []:
        kept = {name: r[name] for name in RESULT_FIELDS if r.get(name) is not None}
        if r.get("rationale") is not None:
            kept["rationale"] = clip_field(r["rationale"], RATIONALE_BYTES)[0]
        kept["metadata"] = r.get("metadata") or {}
        results.append(kept)
    timestamp = datetime.fromisoformat(message["timestamp"])
    payload = {
        "trace": {
            "trace_id": message["trace_id"],
            "timestamp": message["timestamp"],
            "status": message.get("status", "OK"),
            "error": message.get("error"),
            "latency_ms": message.get("latency_ms"),
            "model": message.get("model"),
            "cost_usd": message.get("cost_usd"),
            "usage": {
                "input_tokens": message.get("input_tokens"),
                "output_tokens": message.get("output_tokens"),
            },
            "tags": tags,
            "inputs": _bounded(body.get("inputs"), question_text, text_bytes),
            "outputs": _bounded(body.get("outputs"), answer_text, text_bytes),
        },
        "results": results,
    }
    _check(payload)
    return {
        "session_id": session_id,
        "trace_id": message["trace_id"],
        "trace_version": message.get("trace_version", 1),
        "t": timestamp.timestamp(),
        "ends": ends_session(tags),
        "zpacked": pack(payload),
    }


def pack(payload: dict[str, Any]) -> str:
    return base64.b64encode(zlib.compress(orjson.dumps(payload), ZLIB_LEVEL)).decode("ascii")


def unpacked(turn: dict[str, Any]) -> dict[str, Any]:
    """The turn's ``{"trace", "results"}``: from ``zpacked``, or as an earlier version wrote
    it (``packed``, a JSON string; or inline)."""
    if "zpacked" in turn:
        return orjson.loads(zlib.decompress(base64.b64decode(turn["zpacked"])))
    return orjson.loads(turn["packed"]) if "packed" in turn else turn


def _check(payload: dict[str, Any]) -> None:
    """Validate a turn when it arrives (a bad one is dead-lettered then, never breaks the
    closing of its session later); raises ``pydantic.ValidationError``."""
    SessionTurn.model_validate(payload)


def session_of(entry: dict[str, Any], turns: list[dict[str, Any]], closed_by: ClosedBy) -> Session:
    """The ``schemas.Session`` a session evaluator receives, turns in time order."""
    built = []
    for turn in map(unpacked, turns):
        trace = Trace.model_validate(turn["trace"])
        results = [EvaluationResult.model_validate(r) for r in turn["results"]]
        built.append(SessionTurn(trace=trace, results=results))
    app = built[0].trace.app if built else "unknown"
    return Session(
        session_id=entry["sid"],
        session_version=entry.get("version", 0) + 1,
        app=app,
        closed_by=closed_by,
        turns=built,
    )


def epoch_to_datetime(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
