"""Closed sessions -> scored-session messages and session aggregates (no faust).

``SessionScorer`` runs the session evaluators (``evaluators.session.SessionRunner``) over the
sessions one step closed and builds what goes out: one ``ScoredSession`` per session (free text
redacted like every other message, through the worker's ``RecordEncoder`` redactor) and one
``SessionMetricsRecord`` per (app, window of the last trace time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from evaluators import Registry, discover
from evaluators.config import EvaluatorConfig
from evaluators.session import SessionRunner, build_session_evaluators
from pipeline.sinks.encode import RESULT_TEXT_FIELDS, RecordEncoder
from schemas import EvaluatorAggregate
from schemas.session import ClosedBy, ScoredSession, Session, SessionMetricsRecord


@dataclass(frozen=True)
class Closing:
    """A session one step closed: its evaluator input and the window facts."""

    session: Session
    first: float
    last: float
    partition: int

    @property
    def reopened(self) -> bool:
        return self.session.session_version > 1


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class SessionScorer:
    """Session evaluators + the messages of a closing step."""

    def __init__(self, runner: SessionRunner, encoder: RecordEncoder, window_seconds: int,
                 worker_id: str) -> None:  # fmt: skip
        self.runner = runner
        self.encoder = encoder
        self.window_seconds = window_seconds
        self.worker_id = worker_id

    @classmethod
    def create(
        cls,
        config: EvaluatorConfig,
        encoder: RecordEncoder,
        window_seconds: int,
        worker_id: str,
        registry: Registry | None = None,
    ) -> SessionScorer:
        registry = registry if registry is not None else discover()
        runner = SessionRunner(build_session_evaluators(config, registry))
        return cls(runner, encoder, window_seconds, worker_id)

    def score(self, closings: Sequence[Closing]) -> list[ScoredSession]:
        """Blocking (evaluators run in threads): call it from an executor."""
        results = self.runner.score([c.session for c in closings])
        now = datetime.now(tz=UTC)
        return [
            ScoredSession(
                session_id=c.session.session_id,
                session_version=c.session.session_version,
                app=c.session.app,
                closed_by=c.session.closed_by,
                first_trace_time=_time(c.first),
                last_trace_time=_time(c.last),
                turn_count=len(c.session),
                trace_ids=[t.trace.trace_id for t in c.session],
                results=r,
                scored_at=now,
            )
            for c, r in zip(closings, results, strict=True)
        ]

    def message(self, scored: ScoredSession) -> bytes:
        """The scored-sessions topic value, redacted."""
        body = scored.model_dump(mode="json")
        redactor = self.encoder.redactor
        if redactor.enabled:
            body["app"] = redactor.redact(body["app"])
            body["session_id"] = body["session_id"]  # an id: kept, as trace ids are
            for result in body["results"]:
                for name in RESULT_TEXT_FIELDS:
                    result[name] = redactor.redact(result[name])
        return ScoredSession.model_validate(body).model_dump_json().encode()

    def aggregates(
        self, closings: Sequence[Closing], scored: Sequence[ScoredSession]
    ) -> list[SessionMetricsRecord]:
        """Per (partition, app, window of the last trace): counts and evaluator figures."""
        width = timedelta(seconds=self.window_seconds)
        groups: dict[tuple[int, str, datetime], list[tuple[Closing, ScoredSession]]]
        groups = defaultdict(list)
        for closing, session in zip(closings, scored, strict=True):
            last = session.last_trace_time
            start = datetime.fromtimestamp(
                (last.timestamp() // self.window_seconds) * self.window_seconds, tz=UTC
            )
            groups[closing.partition, session.app, start].append((closing, session))
        records = []
        for (partition, app, start), items in sorted(groups.items(), key=lambda kv: kv[0][:2]):
            records.append(
                SessionMetricsRecord(
                    window_start=start,
                    window_end=start + width,
                    app=app,
                    worker_id=self.worker_id,
                    source_partition=partition,
                    session_count=len(items),
                    turn_count=sum(s.turn_count for _, s in items),
                    error_turns=sum(_error_turns(c.session) for c, _ in items),
                    reopened_count=sum(1 for c, _ in items if c.reopened),
                    duration_seconds_sum=sum(c.last - c.first for c, _ in items),
                    cost_usd=sum(_cost(c.session) for c, _ in items),
                    evaluators=_evaluator_aggregates([s for _, s in items]),
                )
            )
        return records

    def window_message(self, record: SessionMetricsRecord) -> tuple[bytes, bytes]:
        redactor = self.encoder.redactor
        if redactor.enabled:
            record = record.model_copy(update={"app": redactor.redact(record.app)})
        return record.key.encode(), record.model_dump_json().encode()

    def close(self) -> None:
        self.runner.close()


def _error_turns(session: Session) -> int:
    return sum(1 for t in session if t.trace.status.value == "ERROR")


def _cost(session: Session) -> float:
    return sum(t.trace.cost_usd or 0.0 for t in session)


def _evaluator_aggregates(scored: Sequence[ScoredSession]) -> dict[str, EvaluatorAggregate]:
    by_name: dict[str, list[Any]] = defaultdict(list)
    for session in scored:
        for result in session.results:
            by_name[result.evaluator].append(result)
    out = {}
    for name, results in by_name.items():
        scores = [r.score for r in results if r.score is not None and r.error is None]
        passes = [r.passed for r in results if r.passed is not None and r.error is None]
        out[name] = EvaluatorAggregate(
            evaluations=len(results),
            scored=len(scores),
            mean_score=sum(scores) / len(scores) if scores else None,
            pass_rate=sum(passes) / len(passes) if passes else None,
            error_count=sum(1 for r in results if r.error is not None),
        )
    return out


__all__ = ["ClosedBy", "Closing", "SessionScorer"]
