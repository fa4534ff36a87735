"""One evaluator call over a batch, run in the runner's threads: what it scores (whole traces,
or the (span, trace) targets of ``apply_to``) and how (one vectorised call when the evaluator
has one, else, or when that raises, one item at a time so a failing item gets the error alone).
Results land in a ``Progress`` (``evaluators.progress``) the runner reads at the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evaluators.outcome import error_result, to_results
from evaluators.progress import Progress
from schemas import EvaluationResult, Span, Trace

if TYPE_CHECKING:
    from evaluators.runner import ConfiguredEvaluator


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


def progress_of(work: Work) -> Progress:
    if work.span_ids:
        return Progress(len(work.indexes), work.span_ids, "span")
    return Progress(len(work.indexes), [t.trace_id for t in work.traces], "trace")


def evaluate(configured: ConfiguredEvaluator, work: Work, progress: Progress) -> None:
    """The call's thread: one vectorised call when the evaluator has one, else (or when it
    raises, to isolate the failing items) one item at a time."""
    evaluator = configured.evaluator
    spans = bool(work.span_ids)
    batched = evaluator.is_span_batched() if spans else evaluator.is_batched()
    if batched and len(work.indexes) > 1:
        progress.whole_batch = True
        start = time.perf_counter()
        try:
            if spans:
                outcomes = evaluator.evaluate_span_batch(list(zip(work.spans, work.traces,
                                                                  strict=True)))  # fmt: skip
            else:
                outcomes = evaluator.evaluate_batch(work.traces)
            if len(outcomes) != len(work.indexes):
                method = "evaluate_span_batch" if spans else "evaluate_batch"
                unit = "spans" if spans else "traces"
                raise ValueError(
                    f"{method} returned {len(outcomes)} outcomes for {len(work.indexes)} {unit}"
                )
            each_ms = (time.perf_counter() - start) * 1000 / len(outcomes)
            span_ids = work.span_ids or [None] * len(outcomes)
            progress.fill([
                to_results(evaluator, o, configured.threshold, each_ms, span_id)
                for o, span_id in zip(outcomes, span_ids, strict=True)
            ])  # fmt: skip
            return
        except Exception:
            pass  # isolate the failing item(s) by scoring one at a time below
        finally:
            progress.whole_batch = False
    one_at_a_time(configured, work, progress)


def one_at_a_time(configured: ConfiguredEvaluator, work: Work, progress: Progress) -> None:
    """Score the slots ``progress`` hands out until none is left. Runs in the call's thread
    and, when one item hangs, in a helper thread too (so the items after it are scored)."""
    while (slot := progress.take()) is not None:
        progress.finish(slot, _score_one(configured, work, slot))


def _score_one(configured: ConfiguredEvaluator, work: Work, slot: int) -> list[EvaluationResult]:
    evaluator = configured.evaluator
    trace = work.traces[slot]
    span_id = work.span_ids[slot] if work.span_ids else None
    start = time.perf_counter()
    try:
        if span_id is None:
            if evaluator.is_batched():
                outcome = evaluator.evaluate_batch([trace])[0]
            else:
                outcome = evaluator.evaluate(trace)
        elif evaluator.is_span_batched():
            outcome = evaluator.evaluate_span_batch([(work.spans[slot], trace)])[0]
        else:
            outcome = evaluator.evaluate_span(work.spans[slot], trace)
        elapsed = (time.perf_counter() - start) * 1000
        return to_results(evaluator, outcome, configured.threshold, elapsed, span_id)
    except Exception as exc:
        elapsed = (time.perf_counter() - start) * 1000
        return [error_result(evaluator, f"{type(exc).__name__}: {exc}", elapsed, span_id=span_id)]
