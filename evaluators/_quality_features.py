"""Lexical features shared by the correctness and context-sufficiency models.

The same functions compute the features for training (``evaluators/training``) and at run
time, so the shipped models never see a feature computed differently. Each returns a dict
(name -> float) plus a few human-readable facts for the result rationale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from evaluators import _quality_model
from evaluators._quality_nlp import (
    answer_type,
    bigrams,
    entities,
    has_negation,
    numbers,
    sentences,
    text_stems,
    type_evidence,
    words,
)

ANSWER_TYPES = ("number", "date", "person", "place", "other")


def idf(stem: str) -> float:
    """Inverse document frequency from the training corpora (unknown words count as rare)."""
    table = _quality_model.load("idf")
    return table["idf"].get(stem, table["default"])


def _idf_table() -> Callable[[str], float]:
    """``idf`` with the table looked up once (per feature call: training may reload it)."""
    table = _quality_model.load("idf")
    get, default = table["idf"].get, table["default"]
    return lambda stem: get(stem, default)


@dataclass
class Evidence:
    """What a feature function found, for the rationale."""

    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    best_sentence: str = ""


def _weighted(found: set[str], wanted: list[str], idf: Callable[[str], float] = idf) -> float:
    total = sum(idf(s) for s in wanted)
    return sum(idf(s) for s in wanted if s in found) / total if total else 0.0


class _Weights:
    """``_weighted(found, wanted)`` for one ``wanted`` list and many ``found`` sets."""

    def __init__(self, wanted: list[str], idf: Callable[[str], float]) -> None:
        self.pairs = [(s, idf(s)) for s in wanted]
        self.total = sum(w for _, w in self.pairs)  # same order as _weighted: same float

    def __call__(self, found: set[str]) -> float:
        if not self.total:
            return 0.0
        return sum(w for s, w in self.pairs if s in found) / self.total


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def sufficiency_features(question: str, docs: list[str]) -> tuple[dict[str, float], Evidence]:
    """Does the context hold the question's words, and a sentence that could answer it?"""
    idf = _idf_table()
    q_tokens = words(question)
    q_content = text_stems(question)
    q_stems = list(dict.fromkeys(q_content))
    q_bigrams = bigrams(q_content)
    q_weighted = _Weights(q_stems, idf)
    q_numbers, q_entities = numbers(question), entities(question)
    kind = answer_type(q_tokens)
    sent_texts = [s for doc in docs for s in sentences(doc)]
    sent_stems = [set(text_stems(s)) for s in sent_texts]
    all_stems = set().union(*sent_stems) if sent_stems else set()
    context_text = "\n".join(docs)
    ctx_numbers = numbers(context_text)
    ctx_lower = context_text.lower()
    best, best_i, second = 0.0, -1, 0.0
    for i, stems in enumerate(sent_stems):
        cover = q_weighted(stems)
        if cover > best:
            best, best_i, second = cover, i, best
        elif cover > second:
            second = cover
    window = 0.0
    for i in range(len(sent_stems) - 1):
        window = max(window, q_weighted(sent_stems[i] | sent_stems[i + 1]))
    best_stems = sent_stems[best_i] if best_i >= 0 else set()
    best_text = sent_texts[best_i] if best_i >= 0 else ""
    best_bigrams = bigrams(text_stems(best_text))
    evidence_types = type_evidence(best_text, words(best_text)) if best_text else {}
    missing = [s for s in q_stems if s not in all_stems]
    missing_idf = [idf(s) for s in missing]
    ctx_bigrams = bigrams(text_stems(context_text)) if q_bigrams else set()
    feats = {
        "coverage": _ratio(len(q_stems) - len(missing), len(q_stems)),
        "coverage_idf": q_weighted(all_stems),
        "best_sentence_idf": best,
        "second_sentence_idf": second,
        "window_idf": window,
        "best_sentence_plain": _ratio(len(best_stems & set(q_stems)), len(q_stems)),
        "bigram_context": _ratio(len(q_bigrams & ctx_bigrams), len(q_bigrams)),
        "bigram_best": _ratio(len(q_bigrams & best_bigrams), len(q_bigrams)),
        "n_missing": float(len(missing)),
        "max_missing_idf": max(missing_idf, default=0.0),
        "sum_missing_idf": sum(missing_idf),
        "numbers_found": _ratio(len(q_numbers & ctx_numbers), len(q_numbers)) if q_numbers else 1,
        "has_numbers": float(bool(q_numbers)),
        "entities_found": (
            _ratio(sum(e in ctx_lower for e in q_entities), len(q_entities)) if q_entities else 1
        ),
        "type_evidence": float(evidence_types.get(kind, False)),
        "best_extra_words": math.log1p(len(best_stems - set(q_stems))),
        "question_negated": float(has_negation(q_tokens)),
        "question_len": math.log1p(len(q_stems)),
        "context_len": math.log1p(len(all_stems)),
        **{f"type_{t}": float(kind == t) for t in ANSWER_TYPES},
    }
    present = [s for s in q_stems if s in all_stems]
    return feats, Evidence(present, missing, best_text)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    """SQuAD-style answer normalisation: lower case, no punctuation, no articles."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub(" ", text.lower())).split())


def _char_trigrams(text: str) -> set[str]:
    text = f" {text} "
    return {text[i : i + 3] for i in range(len(text) - 2)}


def reference_features(answer: str, expected: str, question: str = "") -> tuple[dict, Evidence]:
    """How well does ``answer`` agree with ``expected`` (words, numbers, entities, negation)?"""
    a_tokens, e_tokens = words(answer), words(expected)
    q_stems = set(text_stems(question))
    a_stems, e_stems = set(text_stems(answer)), list(dict.fromkeys(text_stems(expected)))
    # words the question already contains say nothing about the answer being right
    e_new = [s for s in e_stems if s not in q_stems] or e_stems
    a_norm, e_norm = normalise(answer), normalise(expected)
    common = len(set(a_norm.split()) & set(e_norm.split()))
    precision = _ratio(common, len(set(a_norm.split())))
    recall = _ratio(common, len(set(e_norm.split())))
    e_numbers, a_numbers = numbers(expected), numbers(answer)
    e_ent = entities(expected) or {t for t in e_tokens if t.isdigit()}
    a_tri, e_tri = _char_trigrams(e_norm), _char_trigrams(a_norm)
    missing = [s for s in e_new if s not in a_stems]
    feats = {
        "recall": _ratio(len(e_new) - len(missing), len(e_new)),
        "recall_idf": _weighted(a_stems, e_new, _idf_table()),
        "token_f1": 2 * precision * recall / (precision + recall) if common else 0.0,
        "contains": float(bool(e_norm) and f" {e_norm} " in f" {a_norm} "),
        "char_jaccard": _ratio(len(a_tri & e_tri), len(a_tri | e_tri)),
        "char_recall": _ratio(len(a_tri & e_tri), len(a_tri)),
        "numbers_agree": _ratio(len(e_numbers & a_numbers), len(e_numbers)) if e_numbers else 1,
        "numbers_extra": float(bool(a_numbers - e_numbers) and bool(e_numbers)),
        "entity_recall": _ratio(sum(e in a_norm for e in e_ent), len(e_ent)) if e_ent else 1,
        "negation_mismatch": float(has_negation(a_tokens) != has_negation(e_tokens)),
        "length_ratio": math.log((len(a_tokens) + 1) / (len(e_tokens) + 1)),
        "expected_len": math.log1p(len(e_tokens)),
    }
    return feats, Evidence([s for s in e_new if s in a_stems], missing)


def grounding_features(answer: str, context: str, question: str = "") -> tuple[dict, Evidence]:
    """Is what the answer adds to the question supported by the context?"""
    idf = _idf_table()
    a_tokens = words(answer)
    q_stems = set(text_stems(question))
    a_content = text_stems(answer)
    a_stems = list(dict.fromkeys(a_content))
    novel = [s for s in a_stems if s not in q_stems]
    sent_stems = [set(text_stems(s)) for s in sentences(context)]
    ctx = set().union(*sent_stems) if sent_stems else set()
    a_weighted = _Weights(a_stems, idf)
    best = max((a_weighted(s) for s in sent_stems), default=0.0)
    a_bigrams = bigrams(a_content)
    ctx_bigrams = bigrams(text_stems(context)) if a_bigrams else set()
    a_numbers, a_ent = numbers(answer), entities(answer)
    ctx_lower = context.lower()
    unsupported = [s for s in novel if s not in ctx]
    a_norm = normalise(answer)
    feats = {
        "support": _ratio(len(a_stems) - sum(s not in ctx for s in a_stems), len(a_stems)),
        "support_novel": _ratio(len(novel) - len(unsupported), len(novel)) if novel else 1.0,
        "support_idf": _weighted(ctx, novel or a_stems, idf),
        "best_sentence_idf": best,
        "bigram_support": _ratio(len(a_bigrams & ctx_bigrams), len(a_bigrams)) if a_bigrams else 1,
        "n_unsupported": float(len(unsupported)),
        "max_unsupported_idf": max((idf(s) for s in unsupported), default=0.0),
        "numbers_supported": (
            _ratio(len(a_numbers & numbers(context)), len(a_numbers)) if a_numbers else 1.0
        ),
        "entities_supported": (
            _ratio(sum(e in ctx_lower for e in a_ent), len(a_ent)) if a_ent else 1.0
        ),
        "verbatim": float(bool(a_norm) and a_norm in normalise(context)),
        "answer_negated": float(has_negation(a_tokens)),
        "answer_len": math.log1p(len(a_tokens)),
        "novel_share": _ratio(len(novel), len(a_stems)),
    }
    return feats, Evidence([s for s in novel if s in ctx], unsupported)
