"""Test an evaluator without Kafka, the same way the worker runs it.

    from pipeline.testing import run_evaluator
    run = run_evaluator(answer_length, [{"trace_id": "t1", "outputs": "Paris"}])
    assert run.results[0].passed

A session evaluator: ``run_session_evaluator(frustration, [turn1, turn2, ...])``.

Traces may be dicts (validated like messages from Kafka) or ``Trace`` models. The
evaluator may be a decorated function, a plain function, an ``Evaluator`` class or
instance, or the name of an installed evaluator. ``apply_to={"span_type": ["LLM"]}`` runs it
per matching span, as the TOML ``apply_to`` does (docs/span-targeting.md).

The worker's stages themselves (decode, scoring, windows, sinks, commit, crash and resume) run
in-process with ``pipeline.worker.testing.StageHarness``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evaluators import EvaluationRunner, Evaluator, discover
from evaluators.config import TraceFilter
from evaluators.registry import Registry, as_registrable
from evaluators.runner import ConfiguredEvaluator
from evaluators.targeting import DEFAULT_MAX_SPANS, SpanTarget
from schemas import EvaluationResult, Trace


@dataclass(frozen=True)
class EvaluationRun:
    """Results of a test run, flat and per trace."""

    traces: list[Trace]
    per_trace: list[list[EvaluationResult]]

    @property
    def results(self) -> list[EvaluationResult]:
        return [result for results in self.per_trace for result in results]

    @property
    def scores(self) -> list[float | None]:
        return [result.score for result in self.results]

    def errors(self) -> list[str]:
        return [result.error for result in self.results if result.error]

    def frame(self) -> pd.DataFrame:
        """One row per trace x result, like the Parquet dataset."""
        return pd.DataFrame(
            [
                {"trace_id": trace.trace_id, **result.model_dump(exclude={"schema_version"})}
                for trace, results in zip(self.traces, self.per_trace, strict=True)
                for result in results
            ]
        )


def _instance(evaluator: Any, params: Mapping[str, Any], registry: Registry | None) -> Evaluator:
    if isinstance(evaluator, str):
        return (registry or discover()).get(evaluator).create(dict(params))
    if isinstance(evaluator, Evaluator) and not params:
        return evaluator
    scratch = Registry()
    return scratch.register(as_registrable(evaluator)).create(dict(params))


def run_evaluator(
    evaluator: Any,
    traces: Iterable[Mapping[str, Any] | Trace],
    *,
    threshold: float | None = None,
    timeout_seconds: float = 30.0,
    registry: Registry | None = None,
    apply_to: Mapping[str, Any] | SpanTarget | None = None,
    **params: Any,
) -> EvaluationRun:
    """Run one evaluator over ``traces`` with the worker's runner (isolation, timeouts)."""
    instance = _instance(evaluator, params, registry)
    models = [t if isinstance(t, Trace) else Trace.model_validate(t) for t in traces]
    target = SpanTarget.model_validate(apply_to) if isinstance(apply_to, Mapping) else apply_to
    configured = ConfiguredEvaluator(
        evaluator=instance,
        threshold=instance.threshold if threshold is None else threshold,
        timeout_seconds=timeout_seconds,
        filter=TraceFilter(),
        apply_to=target,
        max_spans=target.max_spans if target and target.max_spans else DEFAULT_MAX_SPANS,
    )
    runner = EvaluationRunner([configured])
    try:
        return EvaluationRun(models, runner.score(models))
    finally:
        runner.close()


def run_session_evaluator(
    evaluator: Any,
    turns: Iterable[Mapping[str, Any] | Trace],
    *,
    session_id: str = "session-1",
    results: Mapping[str, list[Mapping[str, Any]]] | None = None,
    threshold: float | None = None,
    timeout_seconds: float = 30.0,
    registry: Registry | None = None,
    **params: Any,
) -> list[EvaluationResult]:
    """Run one session evaluator over one session of ``turns`` (trace dicts or ``Trace``s, in
    order) with the session stage's runner; ``results`` gives turns their trace results by
    trace id (``{"t1": [{"evaluator": "safety", "score": 0.9, "passed": True}]}``)."""
    from evaluators.session import ConfiguredSessionEvaluator, SessionRunner
    from schemas.session import Session, SessionTurn

    instance = _instance(evaluator, params, registry)
    traces = [t if isinstance(t, Trace) else Trace.model_validate(t) for t in turns]
    given = results or {}
    session = Session(
        session_id=session_id,
        turns=[
            SessionTurn(
                trace=trace,
                results=[EvaluationResult.model_validate(r) for r in given.get(trace.trace_id, [])],
            )
            for trace in traces
        ],
    )
    configured = ConfiguredSessionEvaluator(
        instance,
        instance.threshold if threshold is None else threshold,
        timeout_seconds=timeout_seconds,
    )
    runner = SessionRunner([configured])
    try:
        return runner.score([session])[0]
    finally:
        runner.close()
