"""Run the configured evaluators over a batch of traces, with isolation.

Each evaluator runs in its own thread with a deadline: one that raises yields error results
for itself only, one that hangs is cut at ``timeout_seconds`` (results it finished before the
deadline are kept) and is skipped, with an error result, until its stuck call returns.
Sampling (deterministic by trace id) and filters decide which traces an evaluator sees; a
trace that is sampled or filtered out gets no row for that evaluator.

An evaluator with ``apply_to`` (see ``evaluators.targeting``) runs once per matching span
instead: sampling (by trace and span id) and filters (the span's status) apply per span, each
span's results carry its ``span_id``, a span that raises or is cut by the deadline gets an
error result of its own, and a trace over the span cap gets one ``span_limit_exceeded`` error.

An evaluator whose ``executor`` is ``process`` runs in the injected ``pool``
(``evaluators.pool``: shared-nothing processes, same isolation) when there is one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Literal

from evaluators.base import Evaluator
from evaluators.calls import Progress, evaluate, select, unfinished
from evaluators.config import EvaluatorConfig, TraceFilter, sample_fraction
from evaluators.exceptions import ConfigError
from evaluators.outcome import error_result
from evaluators.registry import Registry
from evaluators.targeting import DEFAULT_MAX_SPANS, SpanTarget
from schemas import SPAN_LIMIT_EXCEEDED, EvaluationResult, Span, Trace


@dataclass(frozen=True)
class ConfiguredEvaluator:
    evaluator: Evaluator
    threshold: float
    sample_rate: float = 1.0
    timeout_seconds: float = 30.0
    filter: TraceFilter = field(default_factory=TraceFilter)
    apply_to: SpanTarget | None = None
    max_spans: int = DEFAULT_MAX_SPANS
    executor: Literal["thread", "process"] = "thread"

    @property
    def name(self) -> str:
        return self.evaluator.name

    def selects(self, trace: Trace) -> bool:
        if self.sample_rate < 1.0 and sample_fraction(trace.trace_id) >= self.sample_rate:
            return False
        return self.filter.matches(trace)

    def spans_of(self, trace: Trace) -> tuple[list[tuple[Span, str]], EvaluationResult | None]:
        """The spans this (span-targeted) evaluator runs on in ``trace``, at most
        ``max_spans``, and the error result that says how many were left out, if any."""
        assert self.apply_to is not None
        chosen = self.apply_to.select(trace)
        if self.sample_rate < 1.0:
            rate, trace_id = self.sample_rate, trace.trace_id
            chosen = [c for c in chosen if sample_fraction(trace_id, c[1]) < rate]
        if self.filter.status is not None or self.filter.tags:
            chosen = [c for c in chosen if self.filter.matches(trace, c[0])]
        if len(chosen) <= self.max_spans:
            return chosen, None
        over = error_result(
            self.evaluator,
            f"span limit: {len(chosen)} spans matched apply_to, the first {self.max_spans} were"
            f" evaluated (raise apply_to.max_spans or [defaults] max_spans_per_trace)",
            None,
            label=SPAN_LIMIT_EXCEEDED,
            metadata={"matched_spans": len(chosen), "max_spans": self.max_spans},
        )
        return chosen[: self.max_spans], over


def build_evaluators(
    config: EvaluatorConfig, registry: Registry, scope: str = "trace"
) -> list[ConfiguredEvaluator]:
    """Instantiate what the config asks for (or the default set). Raises ``ConfigError``.

    Only evaluators of ``scope`` are returned: ``trace`` ones for this runner, ``session``
    ones for ``evaluators.session.SessionRunner`` (both read the same TOML tables).
    """
    tables = config.evaluators
    if tables is None:
        from evaluators.config import EvaluatorSettings

        defaults = registry.default_names(scope)
        tables = {name: EvaluatorSettings() for name in defaults}
    configured = []
    prices = {name: p.model_dump() for name, p in config.pricing.items()}
    for result_name, settings in tables.items():
        if not settings.enabled:
            continue
        registration = registry.get(settings.use or result_name)
        params = dict(settings.params)
        if prices and "prices" in registration.parameters() and "prices" not in params:
            params["prices"] = prices
        if prices and isinstance(params.get("judge"), dict):
            # the config's [pricing] table prices the judge's own calls too (its own
            # judge.prices, when given, wins model by model)
            params["judge"] = {
                **params["judge"],
                "prices": {**prices, **(params["judge"].get("prices") or {})},
            }
        instance = registration.create(params, result_name=result_name)
        if getattr(instance, "scope", "trace") == "session" and settings.apply_to is not None:
            raise ConfigError(
                f"evaluator {result_name!r}: apply_to targets spans, but a session evaluator"
                " scores whole sessions (remove apply_to)"
            )
        if getattr(instance, "scope", "trace") != scope:
            continue
        configured.append(
            ConfiguredEvaluator(
                evaluator=instance,
                threshold=(
                    settings.threshold if settings.threshold is not None else instance.threshold
                ),
                sample_rate=(
                    settings.sample_rate
                    if settings.sample_rate is not None
                    else config.defaults.sample_rate
                ),
                timeout_seconds=settings.timeout_seconds or config.defaults.timeout_seconds,
                filter=settings.filter,
                apply_to=settings.apply_to,
                max_spans=(
                    settings.apply_to.max_spans
                    if settings.apply_to is not None and settings.apply_to.max_spans is not None
                    else config.defaults.max_spans_per_trace
                ),
                executor=(
                    settings.executor
                    or config.defaults.executor
                    or getattr(instance, "executor", "thread")
                ),
            )
        )
    return configured


class EvaluationRunner:
    """Scores batches of traces with a fixed list of configured evaluators."""

    def __init__(self, evaluators: Sequence[ConfiguredEvaluator], pool: Any = None) -> None:
        """``pool``: an ``evaluators.pool.EvaluatorProcessPool`` for the evaluators whose
        executor is ``process`` (owned and closed by the caller); without one they run in
        threads like the others."""
        self.evaluators = list(evaluators)
        self.pool = pool
        self._pool = ThreadPoolExecutor(
            max_workers=max(2, 2 * len(self.evaluators)), thread_name_prefix="evaluator"
        )
        self._stuck: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def score(self, traces: Sequence[Trace]) -> list[list[EvaluationResult]]:
        """Results per trace, in the order of ``traces``, evaluators in config order (a span
        target's results in span order, then its span-limit error if any)."""
        out: list[list[EvaluationResult]] = [[] for _ in traces]
        started = []
        pooled: list[tuple[ConfiguredEvaluator, Any]] = []
        for configured in self.evaluators:
            work = select(configured, traces)
            if not work.indexes:
                for index, over in work.over_limit:
                    out[index].append(over)
                continue
            if self.pool is not None and configured.executor == "process":
                pooled.append((configured, work))
                started.append((configured, work, None, "pool", 0.0))
                continue
            progress = Progress(len(work.indexes))
            stuck = self._stuck.get(configured.name)
            if stuck is not None and not stuck.done():
                future = None
            else:
                self._stuck.pop(configured.name, None)
                future = self._pool.submit(evaluate, configured, work, progress)
            started.append((configured, work, progress, future, time.monotonic()))
        from_pool = self.pool.run(traces, pooled) if pooled else {}
        for configured, work, progress, future, start in started:
            if future == "pool":
                progress, reason = from_pool[configured.name], "no result"
            else:
                reason = self._wait(configured, future, start)
            for slot, index in enumerate(work.indexes):
                done = progress.results[slot]
                if done is None:
                    span_id = work.span_ids[slot] if work.span_ids else None
                    why = unfinished(configured, work, progress, slot, reason)
                    done = [error_result(configured.evaluator, why, None, span_id=span_id)]
                out[index].extend(done)
            for index, over in work.over_limit:
                out[index].append(over)
        return out

    def _wait(self, configured: ConfiguredEvaluator, future: Future | None, start: float) -> str:
        if future is None:
            return f"skipped: an earlier call is still running past {configured.timeout_seconds}s"
        remaining = configured.timeout_seconds - (time.monotonic() - start)
        try:
            future.result(timeout=max(remaining, 0.0))
        except FutureTimeout:
            self._stuck[configured.name] = future
            return f"timed out after {configured.timeout_seconds}s"
        return "no result"  # only reached when _evaluate itself failed, which it guards

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
