"""Evaluator processes: CPU-bound evaluators scored in a pool of shared-nothing processes
(bytes in, bytes out), so one worker uses more than one core. Opt-in: an evaluator runs here
when its executor is ``process`` (the class's ``executor``, the TOML ``[defaults]`` or its own
``executor``) and the worker has ``EVALSTREAM_EVALUATOR_PROCESSES`` > 0. See
docs/performance.md."""

from __future__ import annotations

from collections.abc import Sequence

from evaluators.config import EvaluatorConfig
from evaluators.pool.pool import DEFAULT_REGISTRY, EvaluatorProcessPool, PoolStartError
from evaluators.runner import ConfiguredEvaluator

__all__ = ["DEFAULT_REGISTRY", "EvaluatorProcessPool", "PoolStartError", "start_pool"]


def start_pool(
    config: EvaluatorConfig,
    evaluators: Sequence[ConfiguredEvaluator],
    processes: int,
    allow: Sequence[str] | None = None,
    registry: str = DEFAULT_REGISTRY,
) -> EvaluatorProcessPool | None:
    """The pool for ``evaluators`` whose executor is ``process``; ``None`` when there are
    none or ``processes`` is 0 (they then run in threads, as every other evaluator)."""
    names = [c.name for c in evaluators if c.executor == "process"]
    if processes <= 0 or not names:
        return None
    return EvaluatorProcessPool(config, names, processes, registry=registry, allow=allow)
