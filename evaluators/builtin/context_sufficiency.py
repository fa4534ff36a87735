"""Context sufficiency: does the retrieved context hold what the question needs?

Judged per unit of retrieval: ``trace.context`` as one unit, else each RETRIEVER span (one
result per span, ``span_id`` set) so a bad retriever call is pinpointed. The score is a logistic
model trained on SQuAD 2.0 (answerable vs unanswerable question for the paragraph, plus
off-topic contexts and questions with one detail swapped) over lexical features
(``_sufficiency_features``): IDF-weighted question coverage overall and in the best sentence /
sentence pair, bigram overlap, missing rare words, numbers and entities found, and how the
question lines up with its best sentence: which rare words, numbers and names that sentence
lacks (and whether they sit elsewhere in the context), a number or name swapped for another,
an added negation, an antonym ("first" / "last", "dependent" / "independent"), and whether
it holds a candidate of the asked-for kind (a date for "when") not already in the question.
With expectations, the share of expected facts (or expected-response words) found in the
context is averaged in: a context lacking the known answer cannot be sufficient.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from evaluators.base import Outcome, Result
from evaluators.builtin import _encoder_features as ef
from evaluators.builtin._quality_base import QualityEvaluator, quote, surface
from evaluators.builtin._quality_features import Evidence
from evaluators.builtin._quality_nlp import text_stems
from evaluators.builtin._sufficiency_features import sufficiency_features
from evaluators.text import documents, question_text
from schemas import Expectations, Trace

FACT_FOUND = 0.6
"""Share of a fact's content words the context must contain for the fact to count as there."""


def retrieval_units(trace: Trace) -> list[tuple[str | None, list[str], str]]:
    """(span_id, documents, retriever query) per unit; empty when nothing was retrieved."""
    if trace.context:
        return [(None, [c for c in trace.context if isinstance(c, str)], "")]
    units = []
    for span in trace.spans or []:
        if (span.span_type or "").upper() == "RETRIEVER":
            units.append((span.span_id, documents(span.outputs), question_text(span.inputs)))
    return units


def _facts(expectations: Expectations | None) -> list[str]:
    if expectations is None:
        return []
    facts = [f for f in expectations.expected_facts or [] if f and f.strip()]
    if not facts and expectations.expected_response and expectations.expected_response.strip():
        facts = [expectations.expected_response]
    return facts


def fact_coverage(facts: list[str], docs: list[str]) -> tuple[float, list[str]]:
    """Share of facts whose content words are (mostly) in the context, and the missing ones."""
    ctx = set(text_stems("\n".join(docs)))
    missing = []
    for fact in facts:
        stems = set(text_stems(fact))
        if stems and len(stems & ctx) / len(stems) < FACT_FOUND:
            missing.append(fact)
    return 1.0 - len(missing) / len(facts), missing


class ContextSufficiencyEvaluator(QualityEvaluator):
    """Could the question be answered from the retrieved context alone?"""

    name = "context_sufficiency"
    version = "1"
    threshold = 0.5
    judge_kind = "context_sufficiency"

    def _score(self, traces: list[Trace], encoder) -> list[Outcome]:
        """Both tiers; the encoder tier adds question-context meaning similarity and picks
        the best sentence by meaning rather than by shared words."""
        jobs = []  # (trace index, span_id, question, docs)
        outcomes: list[Outcome] = [None] * len(traces)
        for i, trace in enumerate(traces):
            question = question_text(trace.inputs).strip()
            for span_id, docs, query in retrieval_units(trace):
                jobs.append((i, span_id, question or query.strip(), docs))
        scored = [j for j in jobs if j[2] and any(d.strip() for d in j[3])]
        computed = [sufficiency_features(q, docs) for _, _, q, docs in scored]
        if scored and encoder is not None:
            questions = [q for _, _, q, _ in scored]
            contexts = ["\n".join(docs) for *_, docs in scored]
            tokens = ef.token_source(self._model("context_sufficiency_encoder"), encoder)
            sims, best = ef.similarity_features(
                encoder.encode, questions, contexts, contexts, tokens
            )
            computed = [
                ({**f, **sim}, replace(ev, best_sentence=b or ev.best_sentence))
                for (f, ev), sim, b in zip(computed, sims, best, strict=True)
            ]
        probs: dict[int, float] = {}
        if scored:
            model = self._model("context_sufficiency" + ("_encoder" if encoder else ""))
            x = np.array([[f[k] for k in model.features] for f, _ in computed])
            probs = {id(j): float(p) for j, p in zip(scored, model.predict(x), strict=True)}
        by_trace: dict[int, list[Result]] = {}
        features = {id(j): c for j, c in zip(scored, computed, strict=True)}
        for job in jobs:
            i, span_id, question, docs = job
            facts = _facts(traces[i].expectations)
            if id(job) in probs:
                result = _result(question, docs, probs[id(job)], *features[id(job)], facts)
            elif not question:
                continue  # no question: nothing to be sufficient for
            else:
                result = Result(
                    score=0.0, label="insufficient", rationale="no documents were retrieved",
                    metadata={"documents": 0},
                )  # fmt: skip
            by_trace.setdefault(i, []).append(result.model_copy(update={"span_id": span_id}))
        for i, results in by_trace.items():
            outcomes[i] = results if len(results) > 1 or results[0].span_id else results[0]
        return outcomes


def _result(
    question: str, docs: list[str], p: float, feats: dict, ev: Evidence, facts: list[str]
) -> Result:
    parts = [
        f"question words in context: {surface(ev.matched, question)}; "
        f"missing: {surface(ev.missing, question)}"
    ]
    if ev.best_sentence:
        parts.append(f"best sentence {quote(ev.best_sentence, 100)}")
    meta: dict = {
        "documents": len(docs),
        "model_score": round(p, 4),
        "question_coverage": round(feats["coverage_idf"], 4),
        "best_sentence_coverage": round(feats["best_sentence_idf"], 4),
    }
    score = p
    if facts:
        coverage, missing = fact_coverage(facts, docs)
        score = 0.5 * p + 0.5 * coverage
        meta.update(facts_found=len(facts) - len(missing), facts_total=len(facts))
        parts.insert(0, f"{len(facts) - len(missing)}/{len(facts)} expected facts in context")
        if missing:
            parts.insert(1, "missing: " + ", ".join(quote(f, 50) for f in missing[:3]))
    return Result(
        score=round(score, 4),
        label="sufficient" if score >= 0.5 else "insufficient",
        rationale="; ".join(parts),
        metadata=meta,
    )
