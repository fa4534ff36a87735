"""Run the configured evaluators over a batch of traces, with isolation.

Each evaluator runs in its own thread with a deadline: one that raises yields error results
for itself only, one that hangs is cut at ``timeout_seconds`` (results it finished before the
deadline are kept) and is skipped, with an error result, until its stuck call returns.
Sampling (deterministic by trace id) and filters decide which traces an evaluator sees; a
trace that is sampled or filtered out gets no row for that evaluator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from evaluators.base import Evaluator
from evaluators.config import EvaluatorConfig, TraceFilter, sample_fraction
from evaluators.outcome import error_result, to_results
from evaluators.registry import Registry
from schemas import EvaluationResult, Trace


@dataclass(frozen=True)
class ConfiguredEvaluator:
    evaluator: Evaluator
    threshold: float
    sample_rate: float = 1.0
    timeout_seconds: float = 30.0
    filter: TraceFilter = field(default_factory=TraceFilter)

    @property
    def name(self) -> str:
        return self.evaluator.name

    def selects(self, trace: Trace) -> bool:
        if self.sample_rate < 1.0 and sample_fraction(trace.trace_id) >= self.sample_rate:
            return False
        return self.filter.matches(trace)


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
            )
        )
    return configured


class _Progress:
    """Results one evaluator call has finished so far (read after its deadline)."""

    def __init__(self, size: int) -> None:
        self.results: list[list[EvaluationResult] | None] = [None] * size


class EvaluationRunner:
    """Scores batches of traces with a fixed list of configured evaluators."""

    def __init__(self, evaluators: Sequence[ConfiguredEvaluator]) -> None:
        self.evaluators = list(evaluators)
        self._pool = ThreadPoolExecutor(
            max_workers=max(2, 2 * len(self.evaluators)), thread_name_prefix="evaluator"
        )
        self._stuck: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def score(self, traces: Sequence[Trace]) -> list[list[EvaluationResult]]:
        """Results per trace, in the order of ``traces``, evaluators in config order."""
        out: list[list[EvaluationResult]] = [[] for _ in traces]
        started = []
        for configured in self.evaluators:
            indexes = [i for i, trace in enumerate(traces) if configured.selects(trace)]
            if not indexes:
                continue
            progress = _Progress(len(indexes))
            stuck = self._stuck.get(configured.name)
            if stuck is not None and not stuck.done():
                future = None
            else:
                self._stuck.pop(configured.name, None)
                selected = [traces[i] for i in indexes]
                future = self._pool.submit(_evaluate, configured, selected, progress)
            started.append((configured, indexes, progress, future, time.monotonic()))
        for configured, indexes, progress, future, start in started:
            reason = self._wait(configured, future, start)
            for slot, index in enumerate(indexes):
                done = progress.results[slot]
                out[index].extend(
                    done if done is not None else [error_result(configured.evaluator, reason, None)]
                )
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


def _evaluate(configured: ConfiguredEvaluator, traces: list[Trace], progress: _Progress) -> None:
    evaluator = configured.evaluator
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
