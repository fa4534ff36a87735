"""Session evaluators: the same API as trace evaluators, with a ``session`` parameter.

    @evaluator(name="long_conversation")
    def long_conversation(session, max_turns: int = 20) -> Result:
        return Result(score=1.0 if len(session) <= max_turns else 0.0)

``session`` is a ``schemas.Session``: the turns of a closed session in time order, each a
``SessionTurn`` (``turn.trace`` and ``turn.results``, the trace evaluators' results). The
class form subclasses :class:`SessionEvaluator` and overrides ``evaluate_session``. Both are
registered through the ``evalstream.evaluators`` entry points and configured in the same TOML
tables as trace evaluators; the worker's session stage runs them, the trace runner skips them.

:class:`SessionRunner` isolates them as ``EvaluationRunner`` isolates trace evaluators: each in
a thread with a deadline, an exception or a timeout becomes an error result for that evaluator
and session only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from evaluators.base import Evaluator, Outcome
from evaluators.config import EvaluatorConfig, TraceFilter, sample_fraction
from evaluators.exceptions import EvaluatorDefinitionError
from evaluators.outcome import error_result, to_results
from evaluators.registry import Registry
from schemas import EvaluationResult
from schemas.session import Session

SESSION = "session"


class SessionEvaluator(Evaluator):
    """Base of the class form of a session evaluator: override ``evaluate_session``."""

    scope = SESSION

    def evaluate_session(self, session: Session) -> Outcome:
        raise NotImplementedError(f"{type(self).__name__} must implement evaluate_session()")

    def evaluate_sessions(self, sessions: Sequence[Session]) -> list[Outcome]:
        """Score many sessions at once (override to vectorise). The default calls
        ``evaluate_session`` for each."""
        return [self.evaluate_session(session) for session in sessions]

    @classmethod
    def is_batched(cls) -> bool:
        return cls.evaluate_sessions is not SessionEvaluator.evaluate_sessions

    def evaluate(self, trace):  # type: ignore[override]
        raise TypeError(f"{self.name} is a session evaluator: call evaluate_session()")


def validate_session_class(cls: type[Evaluator]) -> None:
    """Called by ``validate_evaluator_class`` for ``scope == "session"`` classes."""
    own = getattr(cls, "evaluate_session", None)
    if own is None or own is SessionEvaluator.evaluate_session:
        raise EvaluatorDefinitionError(f"{cls.__qualname__} does not implement evaluate_session()")


def is_session_evaluator(evaluator: Evaluator) -> bool:
    return getattr(evaluator, "scope", "trace") == SESSION


@dataclass(frozen=True)
class ConfiguredSessionEvaluator:
    evaluator: Evaluator
    threshold: float
    sample_rate: float = 1.0
    timeout_seconds: float = 30.0
    filter: TraceFilter = field(default_factory=TraceFilter)

    @property
    def name(self) -> str:
        return self.evaluator.name

    def selects(self, session: Session) -> bool:
        """Sampled by session id (a session is in or out on every version); the filter's tags
        are read from the first turn (app, env, ... do not change within a conversation)."""
        if self.sample_rate < 1.0 and sample_fraction(session.session_id) >= self.sample_rate:
            return False
        tags = session.turns[0].trace.tags if session.turns else {}
        return all(tags.get(key) == value for key, value in self.filter.tags.items())


def build_session_evaluators(
    config: EvaluatorConfig, registry: Registry
) -> list[ConfiguredSessionEvaluator]:
    """The session evaluators the config asks for (or the default session set)."""
    from evaluators.runner import build_evaluators

    return [
        ConfiguredSessionEvaluator(
            c.evaluator, c.threshold, c.sample_rate, c.timeout_seconds, c.filter
        )
        for c in build_evaluators(config, registry, scope=SESSION)
    ]


class SessionRunner:
    """Scores closed sessions with a fixed list of configured session evaluators."""

    def __init__(self, evaluators: Sequence[ConfiguredSessionEvaluator]) -> None:
        self.evaluators = list(evaluators)
        self._pool = ThreadPoolExecutor(
            max_workers=max(2, 2 * len(self.evaluators)), thread_name_prefix="session-evaluator"
        )
        self._stuck: dict[str, Future[list[list[EvaluationResult]]]] = {}

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.evaluators]

    def score(self, sessions: Sequence[Session]) -> list[list[EvaluationResult]]:
        """Results per session, in the order of ``sessions``, evaluators in config order."""
        out: list[list[EvaluationResult]] = [[] for _ in sessions]
        started = []
        for configured in self.evaluators:
            indexes = [i for i, s in enumerate(sessions) if configured.selects(s)]
            if not indexes:
                continue
            stuck = self._stuck.get(configured.name)
            future = None
            if stuck is None or stuck.done():
                self._stuck.pop(configured.name, None)
                chosen = [sessions[i] for i in indexes]
                future = self._pool.submit(_evaluate_all, configured, chosen)
            started.append((configured, indexes, future, time.monotonic()))
        for configured, indexes, future, start in started:
            results, reason = None, "skipped: an earlier call is still running past its timeout"
            if future is not None:
                remaining = configured.timeout_seconds - (time.monotonic() - start)
                try:
                    results = future.result(timeout=max(remaining, 0.0))
                except FutureTimeout:
                    self._stuck[configured.name] = future
                    reason = f"timed out after {configured.timeout_seconds}s"
            for slot, index in enumerate(indexes):
                if results is not None:
                    out[index].extend(results[slot])
                else:
                    out[index].append(error_result(configured.evaluator, reason, None))
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _evaluate_all(
    configured: ConfiguredSessionEvaluator, sessions: list[Session]
) -> list[list[EvaluationResult]]:
    evaluator = configured.evaluator
    batched = getattr(evaluator, "evaluate_sessions", None)
    if len(sessions) > 1 and isinstance(evaluator, SessionEvaluator) and evaluator.is_batched():
        start = time.perf_counter()
        try:
            outcomes = batched(sessions)
            if len(outcomes) != len(sessions):
                raise ValueError(f"{len(outcomes)} outcomes for {len(sessions)} sessions")
            each_ms = (time.perf_counter() - start) * 1000 / len(sessions)
            return [to_results(evaluator, o, configured.threshold, each_ms) for o in outcomes]
        except Exception:
            pass  # isolate the failing session(s): one at a time below
    out = []
    for session in sessions:
        start = time.perf_counter()
        try:
            outcome = evaluator.evaluate_session(session)  # type: ignore[attr-defined]
            elapsed = (time.perf_counter() - start) * 1000
            out.append(to_results(evaluator, outcome, configured.threshold, elapsed))
        except Exception as exc:
            elapsed = (time.perf_counter() - start) * 1000
            out.append([error_result(evaluator, f"{type(exc).__name__}: {exc}", elapsed)])
    return out
