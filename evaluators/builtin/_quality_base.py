"""What the three built-in quality evaluators share: the backend switch and rationale helpers.

``backend="offline"`` runs the shipped CPU models; ``backend="llm"`` hands the whole batch to
``evaluators.judges.LLMJudge`` (imported only then, so the offline path never needs it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluators.base import Evaluator, Outcome
from evaluators.builtin import _quality_model
from evaluators.builtin._quality_nlp import first_tokens
from schemas import ResultSource, Trace

BACKENDS = ("offline", "llm")


class QualityEvaluator(Evaluator):
    """Base of correctness / safety / context sufficiency: override ``_offline_batch``."""

    judge_kind: str = ""

    def __init__(self, backend: str = "offline", judge: dict[str, Any] | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if judge is not None and not isinstance(judge, dict):
            raise ValueError("judge must be a table of LLM-judge parameters")
        self.backend = backend
        self.judge_params = dict(judge or {})
        self._judge: Any = None
        self._models: dict[str, Any] = {}
        if backend == "llm":
            self.source = ResultSource.LLM_JUDGE
            # Check the judge table now, so a typo fails at config load, not on every trace.
            from evaluators.judges import load_settings

            try:
                load_settings(self.judge_kind, self.judge_params)
            except Exception as exc:  # JudgeConfigError: reported by the registry as bad config
                raise ValueError(str(exc)) from None

    def _llm_judge(self) -> Any:
        if self._judge is None:
            from evaluators.judges import LLMJudge

            self._judge = LLMJudge(kind=self.judge_kind, **self.judge_params)
        return self._judge

    def _model(self, name: str) -> Any:
        """``_quality_model.load(name)``, looked up once per evaluator (no lock per batch)."""
        models = self.__dict__.setdefault("_models", {})  # also if a subclass skipped __init__
        model = models.get(name)
        if model is None:
            model = models[name] = _quality_model.load(name)
        return model

    def evaluate(self, trace: Trace) -> Outcome:
        return self.evaluate_batch([trace])[0]

    def evaluate_batch(self, traces: Sequence[Trace]) -> list[Outcome]:
        if self.backend == "llm":
            return list(self._llm_judge().evaluate_batch(list(traces)))
        return self._offline_batch(list(traces))

    def _offline_batch(self, traces: list[Trace]) -> list[Outcome]:
        raise NotImplementedError


def surface(stems: list[str], text: str, limit: int = 6) -> str:
    """Stems shown as the words the text used ('normand' -> 'Normandy'), comma-separated."""
    if not stems:
        return "none"
    seen = first_tokens(text)  # stem -> its first token in the text
    shown = [seen.get(s, s) for s in stems[:limit]]
    more = f" (+{len(stems) - limit})" if len(stems) > limit else ""
    return ", ".join(shown) + more


def quote(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return f'"{text[: limit - 1]}…"' if len(text) > limit else f'"{text}"'
