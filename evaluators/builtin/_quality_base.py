"""What the three built-in quality evaluators share: the backend switch, the tier cascade
(``cascade.py``) and rationale helpers.

``backend="offline"`` runs the shipped CPU models through the cascade (lexical, then the
encoder tier for uncertain traces, then optionally the judge); ``backend="llm"`` hands the
whole batch to ``evaluators.judges.LLMJudge`` (imported only then, so the offline path never
needs it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evaluators.base import Evaluator, Outcome
from evaluators.builtin import _quality_model
from evaluators.builtin._quality_nlp import first_tokens
from evaluators.builtin.cascade import CascadeSettings, JudgeBudget, annotate, uncertain
from schemas import ResultSource, Trace

BACKENDS = ("offline", "llm")
log = logging.getLogger(__name__)


class QualityEvaluator(Evaluator):
    """Base of correctness / safety / context sufficiency: override ``_offline_batch`` (the
    lexical tier) and ``_encoder_batch`` (the encoder tier)."""

    judge_kind: str = ""
    executor = "process"  # lexical features + the encoder: CPU-bound (evaluators.pool)

    def __init__(
        self,
        backend: str = "offline",
        judge: dict[str, Any] | None = None,
        tiers: str | list[str] = "lexical,encoder",
        encoder_mode: str = "band",
        band: float = 0.3,
        llm_band: float = 0.1,
        judge_calls_per_minute: float | None = None,
        judge_usd_per_hour: float | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        if judge is not None and not isinstance(judge, dict):
            raise ValueError("judge must be a table of LLM-judge parameters")
        self.backend = backend
        self.judge_params = dict(judge or {})
        self.cascade = CascadeSettings.parse(tiers, encoder_mode, band, llm_band)
        self.budget = JudgeBudget(judge_calls_per_minute, judge_usd_per_hour)
        self.models_dir: Path | None = None  # benchmarks point this at held-out-source models
        self.encoder: Any = None  # injected (tests, benchmarks); else the process's shared one
        self._judge: Any = None
        self._models: dict[str, Any] = {}
        if backend == "llm":
            self.source = ResultSource.LLM_JUDGE
        if backend == "llm" or "llm" in self.cascade.tiers:
            self.executor = "thread"  # waits on the judge's API; its budget is per process
        if backend == "llm" or "llm" in self.cascade.tiers:
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
            directory = self.__dict__.get("models_dir")
            if directory is not None and (Path(directory) / f"{name}.json").is_file():
                model = _quality_model.read_model(Path(directory), name)
            else:
                model = _quality_model.load(name)
            models[name] = model
        return model

    def _encoder(self) -> Any:
        if self.__dict__.get("encoder") is None:
            from evaluators.builtin.encoder import shared_encoder

            return shared_encoder()
        return self.encoder

    def evaluate(self, trace: Trace) -> Outcome:
        return self.evaluate_batch([trace])[0]

    def evaluate_batch(self, traces: Sequence[Trace]) -> list[Outcome]:
        if self.backend == "llm":
            return [annotate(o, tier="llm") for o in self._llm_judge().evaluate_batch(list(traces))]
        return self._cascade(list(traces))

    def _cascade(self, traces: list[Trace]) -> list[Outcome]:
        settings = self.__dict__.get("cascade") or CascadeSettings()
        outcomes = [annotate(o, tier="lexical") for o in self._offline_batch(traces)]
        if "encoder" in settings.tiers:
            wanted = [i for i, (trace, o) in enumerate(zip(traces, outcomes, strict=True))
                      if self.sends_to_encoder(trace, o, settings)]  # fmt: skip
            encoder = self._encoder() if wanted else None
            if encoder is None and wanted:  # the ones the encoder would have rescored
                for i in wanted:
                    outcomes[i] = annotate(outcomes[i], encoder_unavailable=True)
            elif wanted:
                try:
                    rescored = self._encoder_batch([traces[i] for i in wanted], encoder)
                except FileNotFoundError as exc:  # a head not shipped: lexical, said once
                    self._warn_once(f"{self.name}: encoder head missing ({exc}); lexical tier")
                    for i in wanted:
                        outcomes[i] = annotate(outcomes[i], encoder_unavailable=True)
                else:
                    for i, outcome in zip(wanted, rescored, strict=True):
                        merged = self.merge_encoder(traces[i], outcomes[i], outcome, settings)
                        outcomes[i] = annotate(merged, tier="encoder")
        if "llm" in settings.tiers:
            self._judge_uncertain(traces, outcomes, settings)
        return outcomes

    def sends_to_encoder(self, trace: Trace, lexical: Outcome, settings: CascadeSettings) -> bool:
        """Whether the cascade has the encoder tier rescore this trace's *lexical* outcome:
        always (``encoder_mode``), within ``band`` of the threshold, or a verdict the lexical
        tier should not give alone (``_lexical_unfounded``). The benchmarks' cascade rows ask
        the same question (``benchmarks/_quality_tiers._cascaded``)."""
        return lexical is not None and (
            settings.encoder_mode == "always"
            or uncertain(lexical, self.threshold, settings.band)
            or self._lexical_unfounded(trace, lexical)
        )

    def merge_encoder(
        self, trace: Trace, lexical: Outcome, rescored: Outcome, settings: CascadeSettings
    ) -> Outcome:
        """The outcome of a trace the encoder rescored: the encoder's (here); an evaluator may
        take only the part of it the trace was sent for. The benchmarks' cascade rows use
        it too."""
        return rescored

    def _lexical_unfounded(self, trace: Trace, outcome: Outcome) -> bool:
        """A lexical verdict the lexical tier should not give alone, however far from the
        threshold (the encoder rescores it when the cascade has that tier). None here."""
        return False

    def _warn_once(self, message: str) -> None:
        if not self.__dict__.get("_warned"):
            self._warned = True
            log.warning(message)

    def _judge_uncertain(self, traces: list[Trace], outcomes: list, settings) -> None:
        wanted = [
            i for i, o in enumerate(outcomes)
            if o is not None and uncertain(o, self.threshold, settings.llm_band)
        ]  # fmt: skip
        if not wanted:
            return
        allowed = self.budget.allow(len(wanted))
        for i in wanted[allowed:]:
            outcomes[i] = annotate(outcomes[i], budget_exhausted=True)
        chosen = wanted[:allowed]
        if not chosen:
            return
        try:
            verdicts = self._llm_judge().evaluate_batch([traces[i] for i in chosen])
        except Exception as exc:  # judge down: the encoder's verdict stands, and says why
            reason = f"{type(exc).__name__}: {str(exc)[:200]}"
            for i in chosen:
                outcomes[i] = annotate(outcomes[i], judge_error=reason)
            return
        for i, verdict in zip(chosen, verdicts, strict=True):
            if verdict is not None:
                self.budget.spent(verdict.metadata.get("cost_usd"))
                outcomes[i] = annotate(verdict, tier="llm")

    def _offline_batch(self, traces: list[Trace]) -> list[Outcome]:
        """The lexical tier; by default ``_score(traces, None)``."""
        return self._score(traces, None)

    def _encoder_batch(self, traces: list[Trace], encoder: Any) -> list[Outcome]:
        """The encoder tier; by default ``_score(traces, encoder)``."""
        return self._score(traces, encoder)

    def _score(self, traces: list[Trace], encoder: Any) -> list[Outcome]:
        """Both tiers in one method (the encoder adds features and picks its own heads)."""
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
