"""Sessions: the turns a session evaluator reads, and what the session stage writes.

A *session* is the traces of one conversation (``tags.session_id``, filled by ingest from the
OpenInference ``session.id``, MLflow ``mlflow.trace.session`` and GenAI
``gen_ai.conversation.id`` conventions), ordered by trace time, each with the results the trace
evaluators gave it. The worker closes a session on an event-time inactivity gap, a maximum
duration, a turn bound or an explicit end marker, scores it with the session evaluators and
writes one :class:`ScoredSession` per closing to the scored-sessions topic. A trace that arrives
late re-opens a closed session (within a grace): the session is scored again as
``session_version`` N + 1, over every turn. See docs/sessions.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from schemas._base import Message
from schemas.datasets import INT32, _arrow, _Row, columns
from schemas.metrics import EvaluatorAggregate
from schemas.result import EvaluationResult
from schemas.trace import Trace

SESSION_SCHEMA_VERSION = 1

SESSION_ID_TAG = "session_id"
"""The one tag the session stage reads; ingest maps the conventions' session ids onto it."""
SESSION_END_TAG = "session_end"
"""A trace tagged ``session_end = "true"`` is the last turn: its session closes at once."""
SESSION_ID_FALLBACK_TAGS = ("session.id", "mlflow.trace.session", "gen_ai.conversation.id")
"""Convention keys read from a native JSON trace's tags when it has no ``session_id`` tag."""


def session_id_of(tags: dict[str, str]) -> str | None:
    """The session a trace belongs to, from its tags; None when it has none."""
    for key in (SESSION_ID_TAG, *SESSION_ID_FALLBACK_TAGS):
        value = tags.get(key)
        if value:
            return value
    return None


def ends_session(tags: dict[str, str]) -> bool:
    return tags.get(SESSION_END_TAG, "").strip().lower() in {"true", "1", "yes"}


class ClosedBy(StrEnum):
    """Why a session was closed (and scored)."""

    GAP = "gap"  # no trace for gap seconds of event time
    MAX_DURATION = "max_duration"
    END_MARKER = "end_marker"
    MAX_TURNS = "max_turns"
    EVICTED = "evicted"  # the open-session bound was hit: the oldest session closed early


class SessionTurn(Message):
    """One trace of a session and the results of the trace evaluators on it."""

    trace: Trace
    results: list[EvaluationResult] = Field(default_factory=list)

    def result(self, evaluator: str) -> EvaluationResult | None:
        """This turn's result of one trace evaluator (the first, for a span-level one)."""
        return next((r for r in self.results if r.evaluator == evaluator), None)


class Session(Message):
    """What a session evaluator receives as its ``session`` parameter: turns in time order.

    Iterating, ``len`` and indexing go over the turns, so ``session`` reads as the list of
    traces the issue promises; turn numbers in rationales are 1-based (``turn 3``).
    """

    session_id: str
    session_version: int = Field(1, ge=1)
    app: str = "unknown"
    closed_by: ClosedBy = ClosedBy.GAP
    turns: list[SessionTurn]

    def __iter__(self) -> Iterator[SessionTurn]:  # type: ignore[override]
        return iter(self.turns)

    def __len__(self) -> int:
        return len(self.turns)

    def __getitem__(self, index: int) -> SessionTurn:
        return self.turns[index]

    @property
    def traces(self) -> list[Trace]:
        return [turn.trace for turn in self.turns]


class ScoredSession(Message):
    """The scored-sessions topic message: one per session closing, keyed by ``session_id``.

    ``(session_id, first_trace_time, session_version)`` identifies it; a higher version of the
    same session (a late turn re-opened it) replaces the lower one. A session id that comes
    back after its state expired starts a new session (a new ``first_trace_time``).
    """

    schema_version: int = SESSION_SCHEMA_VERSION
    session_id: str
    session_version: int = Field(1, ge=1)
    app: str
    closed_by: ClosedBy
    first_trace_time: datetime
    last_trace_time: datetime
    turn_count: int = Field(ge=1)
    trace_ids: list[str]
    results: list[EvaluationResult]
    scored_at: datetime


class SessionRow(_Row):
    """One row of the ``sessions`` dataset: a session closing x one session evaluator."""

    session_id: str
    session_version: int = Field(1, ge=1)
    app: str
    closed_by: str
    first_trace_time: datetime
    last_trace_time: datetime
    turn_count: int
    trace_ids: list[str] = Field(default_factory=list)
    evaluator: str
    evaluator_version: str
    score: float | None = None
    passed: bool | None = None
    label: str | None = None
    rationale: str | None = None
    error: str | None = None
    eval_latency_ms: float | None = None
    metadata_json: str | None = None
    kafka_topic: str
    kafka_partition: Annotated[int, INT32]
    kafka_offset: int


SESSIONS_COLUMNS = columns(SessionRow)


def sessions_arrow_schema():  # -> pa.Schema (pyarrow imported only when called)
    """The pyarrow schema of a ``sessions`` data file (partitioned by first trace time)."""
    return _arrow(SESSIONS_COLUMNS)


class SessionMetricsRecord(Message):
    """Session aggregates on the metrics topic (``kind = "session"``, key
    ``session|app|window_start``): the sessions closed in one scoring step of one partition
    whose last trace falls in the window. Sum counts across records of a key; per-evaluator
    means are recoverable as ``mean_score * scored``, as for ``MetricsRecord``."""

    schema_version: int = SESSION_SCHEMA_VERSION
    kind: Literal["session"] = "session"
    window_start: datetime
    window_end: datetime
    app: str
    worker_id: str
    source_partition: int = 0
    session_count: int
    turn_count: int
    error_turns: int
    reopened_count: int = 0
    duration_seconds_sum: float = 0.0
    cost_usd: float = 0.0
    evaluators: dict[str, EvaluatorAggregate] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"session|{self.app}|{self.window_start.isoformat()}"
