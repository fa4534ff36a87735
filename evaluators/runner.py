"""Run the configured evaluators over a batch of traces, with isolation.

Each evaluator runs in its own thread with a deadline: one that raises yields error results
for itself only, one that hangs is cut at ``timeout_seconds`` (results it finished before the
deadline are kept) and is skipped, with an error result, until its stuck call returns.
Scoring one item (trace or span) at a time, an item still running after a quarter of the
timeout is taken for a hang: the items after it go on in a second thread, so each gets its
own result if time allows; at the deadline the hung item gets ``timed out after ...s`` and an
item never reached ``not evaluated: <evaluator> was still on ... at the deadline``. One
evaluator holds at most two threads.
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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from evaluators.base import Evaluator
from evaluators.calls import Work, evaluate, one_at_a_time, progress_of, select
from evaluators.config import EvaluatorConfig, TraceFilter, sample_fraction
from evaluators.exceptions import ConfigError
from evaluators.outcome import error_result
from evaluators.progress import HELP_AFTER_FRACTION, Progress
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


@dataclass
class _Call:
    """One evaluator's call over a batch: its threads (none when skipped) and the outcome."""

    configured: ConfiguredEvaluator
    work: Work
    progress: Progress
    start: float
    futures: list[Future[None]] = field(default_factory=list)
    timed_out: bool = False
    reason: str = "no result"  # for slots without results: why


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
        self._stuck: dict[str, list[Future[None]]] = {}
        self._lock = threading.Lock()

    def score(self, traces: Sequence[Trace]) -> list[list[EvaluationResult]]:
        """Results per trace, in the order of ``traces``, evaluators in config order (a span
        target's results in span order, then its span-limit error if any)."""
        out: list[list[EvaluationResult]] = [[] for _ in traces]
        calls = []
        pooled: list[tuple[ConfiguredEvaluator, Work]] = []
        for configured in self.evaluators:
            work = select(configured, traces)
            if not work.indexes:
                for index, over in work.over_limit:
                    out[index].append(over)
                continue
            if self.pool is not None and configured.executor == "process":
                pooled.append((configured, work))  # its progress comes from the pool below
                calls.append(_Call(configured, work, progress_of(work), time.monotonic()))
                continue
            call = _Call(configured, work, progress_of(work), time.monotonic())
            stuck = self._stuck.get(configured.name, [])
            if any(not f.done() for f in stuck):
                call.reason = (
                    f"skipped: an earlier call is still running past {configured.timeout_seconds}s"
                )
            else:
                self._stuck.pop(configured.name, None)
                call.futures.append(self._pool.submit(evaluate, configured, work, call.progress))
            calls.append(call)
        if pooled:  # the threads above run meanwhile; the pool keeps its own deadlines
            from_pool = self.pool.run(traces, pooled)
            for call in calls:
                if call.configured.name in from_pool and not call.futures:
                    call.progress = from_pool[call.configured.name]
        self._supervise([call for call in calls if call.futures])
        for call in calls:
            results = call.progress.close()
            name, work = call.configured.name, call.work
            for slot, index in enumerate(work.indexes):
                done = results[slot]
                if done is None:
                    span_id = work.span_ids[slot] if work.span_ids else None
                    why = call.reason
                    if call.timed_out:
                        why = call.progress.reason(slot, name, call.reason)
                    done = [error_result(call.configured.evaluator, why, None, span_id=span_id)]
                out[index].extend(done)
            for index, over in work.over_limit:
                out[index].append(over)
        return out

    def _supervise(self, calls: list[_Call]) -> None:
        """Wait for the calls until each is done or past its deadline; start a helper thread
        for a call whose one-at-a-time item hangs, so the items after it get scored."""
        pending = list(calls)
        while pending:
            now = time.monotonic()
            wake = []
            for call in list(pending):
                timeout = call.configured.timeout_seconds
                if call.progress.complete() or all(f.done() for f in call.futures):
                    pending.remove(call)
                    continue
                if now >= call.start + timeout:
                    call.timed_out = True
                    call.reason = f"timed out after {timeout}s"
                    self._stuck[call.configured.name] = [f for f in call.futures if not f.done()]
                    pending.remove(call)
                    continue
                due = call.progress.helper_due(now, timeout)
                if due is not None and due <= now:
                    call.progress.helped = True
                    helper = self._pool.submit(
                        one_at_a_time, call.configured, call.work, call.progress
                    )
                    call.futures.append(helper)
                # an item may start (and hang) while we wait: look again a few times per
                # helper delay, not only at the deadline
                wake.append(min(call.start + timeout, now + HELP_AFTER_FRACTION * timeout / 4))
            if pending:
                running = [f for call in pending for f in call.futures if not f.done()]
                wait(running, timeout=max(0.0, min(wake) - time.monotonic()),
                     return_when=FIRST_COMPLETED)  # fmt: skip

    def busy(self) -> bool:
        """True while a call cut at its deadline is still running (its evaluator is skipped)."""
        return any(not f.done() for futures in self._stuck.values() for f in futures)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
