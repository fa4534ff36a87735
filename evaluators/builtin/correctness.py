"""Correctness: against the expectations when the trace has them, else groundedness.

* ``reference`` mode (``expected_response`` and/or ``expected_facts``): a logistic regression
  over agreement features (coverage of the expected words, token F1, containment, numbers,
  entities, negation) trained on SQuAD 2.0 answers. Each expected fact is scored the same way
  and the fact coverage is averaged with the response score.
* ``groundedness`` mode (no expectations, but ``context`` or retriever documents): is what the
  answer adds to the question supported by the context? A logistic regression over support
  features trained on HaluEval QA (right vs hallucinated answers).
* neither: not applicable (``None``).
"""

from __future__ import annotations

import re

import numpy as np

from evaluators.base import Outcome, Result
from evaluators.builtin import _encoder_features as ef
from evaluators.builtin import _quality_features as qf
from evaluators.builtin import _quality_model
from evaluators.builtin._quality_base import QualityEvaluator, quote, surface
from evaluators.builtin._quality_nlp import loose_keys
from evaluators.builtin._quantities import canonical
from evaluators.text import answer_text, documents, question_text
from schemas import Trace


def retrieved_context(trace: Trace) -> list[str]:
    """``trace.context``, else the documents of every retriever span."""
    if trace.context:
        return [c for c in trace.context if isinstance(c, str) and c.strip()]
    docs: list[str] = []
    for span in trace.spans or []:
        if (span.span_type or "").upper() == "RETRIEVER":
            docs.extend(documents(span.outputs))
    return docs


_CLAUSE = re.compile(r"(?<=[.!?;])\s+|\n+")


def best_clause(answer: str, fact: str) -> str:
    """The clause of the answer that shares most words with the fact: each expected fact is
    checked on its own, so 'unused days do not carry over' elsewhere in the answer does not
    make '18 days per year' a negation mismatch."""
    clauses = [c for c in _CLAUSE.split(answer) if c.strip()]
    if len(clauses) <= 1:
        return answer
    keys = set(loose_keys(canonical(fact)))
    return max(clauses, key=lambda c: len(keys & set(loose_keys(canonical(c)))))


def _matrix(model: _quality_model.DenseModel, feats: list[dict]) -> np.ndarray:
    return np.array([[f[k] for k in model.features] for f in feats], dtype=np.float64)


class CorrectnessEvaluator(QualityEvaluator):
    """Is the answer right (reference mode) or at least supported by the context?"""

    name = "correctness"
    version = "1"
    threshold = 0.5
    judge_kind = "correctness"

    def _score(self, traces: list[Trace], encoder) -> list[Outcome]:
        """Both tiers: the encoder tier adds meaning-similarity features and its own heads."""
        outcomes: list[Outcome] = [None] * len(traces)
        ref_pairs: list[tuple[int, str, str, str]] = []  # (trace, kind, expected, answer)
        grounded: list[tuple[int, str, list[str]]] = []
        answers = [answer_text(t.outputs).strip() for t in traces]
        questions = [question_text(t.inputs) for t in traces]
        for i, trace in enumerate(traces):
            exp = trace.expectations
            response = (exp.expected_response or "").strip() if exp else ""
            facts = [f for f in (exp.expected_facts or []) if f and f.strip()] if exp else []
            mode = "reference" if response or facts else None
            context = [] if mode else retrieved_context(trace)
            mode = mode or ("groundedness" if context else None)
            if mode is None:
                continue
            if not answers[i]:
                outcomes[i] = Result(
                    score=0.0, label="empty_output", rationale="the output is empty",
                    metadata={"mode": mode},
                )  # fmt: skip
            elif mode == "reference":
                if response:
                    ref_pairs.append((i, "response", response, answers[i]))
                ref_pairs.extend((i, "fact", f, best_clause(answers[i], f)) for f in facts)
            else:
                grounded.append((i, answers[i], context))
        self._score_reference(ref_pairs, questions, outcomes, encoder)
        self._score_grounded(grounded, questions, outcomes, encoder)
        return outcomes

    def _score_reference(self, pairs: list, questions: list[str], outcomes: list, encoder) -> None:
        if not pairs:
            return
        model = self._model("correctness_reference" + ("_encoder" if encoder else ""))
        computed = [qf.reference_features(a, e, questions[i]) for i, _, e, a in pairs]
        if encoder is not None:
            answers, expected = [a for *_, a in pairs], [e for _, _, e, _ in pairs]
            sims, _ = ef.similarity_features(
                encoder.encode,
                answers,
                expected,
                tokens=ef.token_source(model, encoder),
                interactions=ef.wants_interactions(model),
            )
            computed = [({**f, **sim}, ev) for (f, ev), sim in zip(computed, sims, strict=True)]
        probs = model.predict(_matrix(model, [f for f, _ in computed]))
        by_trace: dict[int, list] = {}
        for (i, kind, expected, _), (feats, ev), p in zip(pairs, computed, probs, strict=True):
            by_trace.setdefault(i, []).append((kind, expected, feats, ev, float(p)))
        for i, items in by_trace.items():
            outcomes[i] = _reference_result(items)

    def _score_grounded(self, rows: list, questions: list[str], outcomes: list, encoder) -> None:
        if not rows:
            return
        model = self._model("correctness_grounding" + ("_encoder" if encoder else ""))
        computed = [qf.grounding_features(a, "\n".join(ctx), questions[i]) for i, a, ctx in rows]
        if encoder is not None:
            answers, contexts = [a for _, a, _ in rows], ["\n".join(c) for _, _, c in rows]
            sims, _ = ef.similarity_features(
                encoder.encode,
                answers,
                contexts,
                contexts,
                ef.token_source(model, encoder),
                ef.wants_interactions(model),
            )
            computed = [({**f, **sim}, ev) for (f, ev), sim in zip(computed, sims, strict=True)]
        probs = model.predict(_matrix(model, [f for f, _ in computed]))
        for (i, answer, _), (feats, ev), p in zip(rows, computed, probs, strict=True):
            supported = float(p) >= 0.5
            rationale = (
                f"{'supported' if supported else 'not supported'} by the context; "
                f"found: {surface(ev.matched, answer)}; "
                f"not in context: {surface(ev.missing, answer)}"
            )
            outcomes[i] = Result(
                score=round(float(p), 4),
                label="grounded" if supported else "hallucination",
                rationale=rationale,
                metadata={
                    "mode": "groundedness",
                    "support": round(feats["support_novel"], 4),
                    "unsupported_words": len(ev.missing),
                },
            )


def _reference_result(items: list[tuple[str, str, dict, object, float]]) -> Result:
    response = [it for it in items if it[0] == "response"]
    facts = [it for it in items if it[0] == "fact"]
    parts, scores, meta = [], [], {"mode": "reference"}
    if response:
        _, expected, feats, ev, p = response[0]
        scores.append(p)
        meta.update(response_score=round(p, 4), token_f1=round(feats["token_f1"], 4))
        verdict = "matches" if p >= 0.5 else "does not match"
        parts.append(
            f"{verdict} the expected response {quote(expected, 60)}; matched: "
            f"{surface(ev.matched, expected)}; missing: {surface(ev.missing, expected)}"
        )
        if feats["numbers_agree"] < 1:
            parts.append("numbers differ")
        if feats["negation_mismatch"]:
            parts.append("negation differs")
    if facts:
        covered = [it for it in facts if it[4] >= 0.5]
        coverage = sum(it[4] for it in facts) / len(facts)
        scores.append(coverage)
        meta.update(facts_covered=len(covered), facts_total=len(facts))
        missing = [quote(it[1], 50) for it in facts if it[4] < 0.5]
        parts.append(
            f"{len(covered)}/{len(facts)} expected facts covered"
            + (f"; missing: {', '.join(missing[:3])}" if missing else "")
        )
    score = sum(scores) / len(scores)
    return Result(
        score=round(score, 4),
        label="correct" if score >= 0.5 else "incorrect",
        rationale="; ".join(parts),
        metadata=meta,
    )
