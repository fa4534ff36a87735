"""One evaluator call over a batch, run in the runner's thread: what it scores (whole traces,
or the (span, trace) targets of ``apply_to``) and how (one vectorised call when the evaluator
has one, else, or when that raises, one item at a time so a failing item gets the error alone).
Results land in a ``Progress`` the runner reads after the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evaluators.outcome import error_result, to_results
from schemas import EvaluationResult, Span, Trace

if TYPE_CHECKING:
    from evaluators.runner import ConfiguredEvaluator


class Progress:
    """Results one evaluator call has finished so far (read after its deadline)."""

    def __init__(self, size: int) -> None:
        self.results: list[list[EvaluationResult] | None] = [None] * size
        self.running: int | None = None  # the span slot being scored one at a time


def unfinished(
    configured: ConfiguredEvaluator, work: Work, progress: Progress, slot: int, reason: str
) -> str:
    """Why a slot has no result. Scoring spans one at a time, the span that was running at the
    deadline gets the timeout; the spans after it say which span held them up."""
    running = progress.running
    if not work.span_ids or running is None or slot <= running:
        return reason
    return (
        f"not evaluated: {configured.name} was still on span {work.span_ids[running]} at the"
        f" deadline ({reason})"
    )


@dataclass(frozen=True)
class Work:
    """What one evaluator call scores: whole traces, or (span, trace) targets.

    ``indexes[slot]`` is the trace each slot's results belong to; ``span_ids`` is empty for a
    trace-level evaluator, else the span id of each slot.
    """

    indexes: list[int]
    traces: list[Trace]
    spans: list[Span] = field(default_factory=list)
    span_ids: list[str] = field(default_factory=list)
    over_limit: list[tuple[int, EvaluationResult]] = field(default_factory=list)


def select(configured: ConfiguredEvaluator, traces: Sequence[Trace]) -> Work:
    if configured.apply_to is None:
        indexes = [i for i, trace in enumerate(traces) if configured.selects(trace)]
        return Work(indexes, [traces[i] for i in indexes])
    work = Work([], [])
    for i, trace in enumerate(traces):
        if not trace.spans:
            continue
        chosen, over = configured.spans_of(trace)
        for span, span_id in chosen:
            work.indexes.append(i)
            work.traces.append(trace)
            work.spans.append(span)
            work.span_ids.append(span_id)
        if over is not None:
            work.over_limit.append((i, over))
    return work


def evaluate(configured: ConfiguredEvaluator, work: Work, progress: Progress) -> None:
    if work.span_ids:
        _evaluate_spans(configured, work, progress)
        return
    evaluator = configured.evaluator
    traces = work.traces
    if evaluator.is_batched() and len(traces) > 1:
        start = time.perf_counter()
        try:
            outcomes = evaluator.evaluate_batch(traces)
            if len(outcomes) != len(traces):
                raise ValueError(
                    f"evaluate_batch returned {len(outcomes)} outcomes for {len(traces)} traces"
                )
            each_ms = (time.perf_counter() - start) * 1000 / len(traces)
            progress.results[:] = [
                to_results(evaluator, o, configured.threshold, each_ms) for o in outcomes
            ]
            return
        except Exception:
            pass  # isolate the failing trace(s) by scoring one at a time below
    for slot, trace in enumerate(traces):
        start = time.perf_counter()
        try:
            if evaluator.is_batched():
                outcome = evaluator.evaluate_batch([trace])[0]
            else:
                outcome = evaluator.evaluate(trace)
            elapsed = (time.perf_counter() - start) * 1000
            progress.results[slot] = to_results(evaluator, outcome, configured.threshold, elapsed)
        except Exception as exc:
            elapsed = (time.perf_counter() - start) * 1000
            progress.results[slot] = [
                error_result(evaluator, f"{type(exc).__name__}: {exc}", elapsed)
            ]


def _evaluate_spans(configured: ConfiguredEvaluator, work: Work, progress: Progress) -> None:
    """As for traces: one vectorised call when the evaluator has one, else (or when it
    raises) one span at a time, so a failing span gets the error result alone."""
    evaluator = configured.evaluator
    targets = list(zip(work.spans, work.traces, strict=True))
    batched = evaluator.is_span_batched()
    if batched and len(targets) > 1:
        start = time.perf_counter()
        try:
            outcomes = evaluator.evaluate_span_batch(targets)
            if len(outcomes) != len(targets):
                raise ValueError(
                    f"evaluate_span_batch returned {len(outcomes)} outcomes for"
                    f" {len(targets)} spans"
                )
            each_ms = (time.perf_counter() - start) * 1000 / len(targets)
            progress.results[:] = [
                to_results(evaluator, o, configured.threshold, each_ms, span_id)
                for o, span_id in zip(outcomes, work.span_ids, strict=True)
            ]
            return
        except Exception:
            pass
    for slot, (target, span_id) in enumerate(zip(targets, work.span_ids, strict=True)):
        progress.running = slot
        start = time.perf_counter()
        try:
            if batched:
                outcome = evaluator.evaluate_span_batch([target])[0]
            else:
                outcome = evaluator.evaluate_span(*target)
            elapsed = (time.perf_counter() - start) * 1000
            progress.results[slot] = to_results(
                evaluator, outcome, configured.threshold, elapsed, span_id
            )
        except Exception as exc:
            elapsed = (time.perf_counter() - start) * 1000
            progress.results[slot] = [
                error_result(evaluator, f"{type(exc).__name__}: {exc}", elapsed, span_id=span_id)
            ]
