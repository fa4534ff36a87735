"""Lexical features of the correctness models, and helpers shared with the context-sufficiency
features (``_sufficiency_features``).

The same functions compute the features for training (``evaluators/training``) and at run
time, so the shipped models never see a feature computed differently. Each returns a dict
(name -> float) plus a few human-readable facts for the result rationale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from evaluators.builtin import _quality_model
from evaluators.builtin._quality_nlp import (
    GENERIC_KEYS,
    bigrams,
    entities,
    has_negation,
    loose_key,
    loose_keys,
    numbers,
    sentences,
    text_stems,
    words,
)
from evaluators.builtin._quantities import canonical

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


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    """SQuAD-style answer normalisation: lower case, no punctuation, no articles."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub(" ", text.lower())).split())


def _char_trigrams(text: str) -> set[str]:
    text = f" {text} "
    return {text[i : i + 3] for i in range(len(text) - 2)}


def reference_features(answer: str, expected: str, question: str = "") -> tuple[dict, Evidence]:
    """How well does ``answer`` agree with ``expected`` (words, numbers, entities, negation)?

    Both are compared in ``canonical`` form ('eighteen ... annually' == '18 ... per year').
    """
    answer, expected, question = canonical(answer), canonical(expected), canonical(question)
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
        **_paraphrase_agreement(answer, expected, question, a_numbers, e_numbers),
    }
    return feats, Evidence([s for s in e_new if s in a_stems], missing)


def _new_keys(text: str, skip: set[str]) -> list[str]:
    """Loose keys of a text minus ``skip`` (the question's) and generic paraphrase words."""
    return [k for k in dict.fromkeys(loose_keys(text)) if k not in skip and k not in GENERIC_KEYS]


def _specific(text: str, nums: set[str], skip: set[str]) -> set[str]:
    """The answer's checkable specifics: numbers, and name words not already in ``skip``."""
    names = {loose_key(e) for e in entities(text)}
    return nums | {k for k in names if k not in skip and not k.isdigit()}


def _paraphrase_agreement(
    answer: str, expected: str, question: str, a_numbers: set[str], e_numbers: set[str]
) -> dict[str, float]:
    """Agreement robust to rewording (loose keys, generic words ignored) and the near misses
    a reworded wrong answer hides: a different number, a different name."""
    q_keys = set(loose_keys(question))
    a_keys, e_keys = set(loose_keys(answer)), set(loose_keys(expected))
    e_new, a_new = _new_keys(expected, q_keys), _new_keys(answer, q_keys)
    e_spec = _specific(expected, e_numbers, q_keys)
    a_spec = _specific(answer, a_numbers, q_keys)
    extra = a_spec - e_spec - e_keys
    return {
        "recall_loose": _ratio(sum(k in a_keys for k in e_new), len(e_new)) if e_new else 1.0,
        "precision_loose": _ratio(sum(k in e_keys for k in a_new), len(a_new)) if a_new else 1.0,
        "numbers_conflict": float(bool(e_numbers - a_numbers) and bool(a_numbers - e_numbers)),
        "specific_missing": _ratio(len(e_spec - a_spec - a_keys), len(e_spec)) if e_spec else 0.0,
        "specific_extra": math.log1p(len(extra)),
    }


def grounding_features(answer: str, context: str, question: str = "") -> tuple[dict, Evidence]:
    """Is what the answer adds to the question supported by the context?"""
    idf = _idf_table()
    a_tokens = words(answer)
    q_stems = set(text_stems(question))
    a_content = text_stems(answer)
    a_stems = list(dict.fromkeys(a_content))
    novel = [s for s in a_stems if s not in q_stems]
    sent_texts = sentences(context)
    sent_stems = [set(text_stems(s)) for s in sent_texts]
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
        **_paraphrase_support(answer, a_tokens, a_numbers, sent_texts, question),
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


def _paraphrase_support(
    answer: str, a_tokens: list[str], a_numbers: set[str], sent_texts: list[str], question: str
) -> dict[str, float]:
    """Support robust to rewording: loose keys (generic synonyms, irregular forms) minus the
    question's and generic words; and whether the answer's numbers / names sit in the context
    sentence that best matches the rest of the answer (a number or name taken from another
    sentence of the context is the typical near-miss of a reworded wrong answer)."""
    q_keys = set(loose_keys(question))
    sent_keys = [set(loose_keys(s)) for s in sent_texts]
    ctx_keys = set().union(*sent_keys) if sent_keys else set()
    novel = _new_keys(answer, q_keys)
    unsupported = [k for k in novel if k not in ctx_keys]
    spec = _specific(answer, a_numbers, q_keys)
    anchor = [
        k for k in dict.fromkeys(loose_keys(answer)) if k not in spec and k not in GENERIC_KEYS
    ]
    best_i, best = -1, -1
    for i, keys in enumerate(sent_keys):
        hits = sum(k in keys for k in anchor)
        if hits > best:
            best_i, best = i, hits
    best_keys = sent_keys[best_i] if best_i >= 0 else set()
    best_text = sent_texts[best_i] if best_i >= 0 else ""
    best_numbers = numbers(best_text) if a_numbers else set()
    in_best = sum((k in best_numbers) if k in a_numbers else (k in best_keys) for k in spec)
    ctx_numbers = set().union(*(numbers(t) for t in sent_texts)) if a_numbers else set()
    unsupported_spec = sum((k not in ctx_numbers) if k in a_numbers else (k not in ctx_keys)
                           for k in spec)  # fmt: skip
    polar = [t for t in a_tokens if t not in ("no", "yes")]
    return {
        "support_loose": _ratio(len(novel) - len(unsupported), len(novel)) if novel else 1.0,
        "n_unsupported_loose": math.log1p(len(unsupported)),
        "unsupported_specific": math.log1p(unsupported_spec),
        "specific_in_best": _ratio(in_best, len(spec)) if spec else 1.0,
        "anchor_in_best": _ratio(best, len(anchor)) if anchor else 1.0,
        "negation_vs_best": float(
            bool(best_text) and has_negation(polar) != has_negation(words(best_text))
        ),
    }
