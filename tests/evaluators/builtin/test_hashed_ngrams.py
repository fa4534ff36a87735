"""The run-time hashing of the hashed-text heads is scikit-learn's ``HashingVectorizer`` bit for
bit (the heads are trained with it; the worker no longer imports it)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from evaluators.builtin import _quality_model
from evaluators.builtin._hashed_ngrams import HashedNgrams

_WORDS = (
    "the refund is issued within 14 days I can't help with that how do I kill a python process "
    "déjà vu ÄÖÜ straße ñandú 漢字 カタカナ İstanbul ǅemal ΣΑΣ ﬁle 😀 x_y 3_4 -- ' \" \n \t . , ! ?"
)
WORDS = _WORDS.split(" ")


def _texts(count: int = 400) -> list[str]:
    rng = random.Random(7)
    texts = ["", "   ", "a", "ab ab ab ab", "I can't help with that."]
    texts += [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 120))) for _ in range(count)]
    return texts


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a.view(np.int64), b.view(np.int64))


@pytest.mark.parametrize("name", ["safety_refusal", "safety_request", "safety_toxicity"])
def test_shipped_heads_score_as_with_scikit_learn(name: str):
    model = _quality_model.load(name)
    texts = _texts()
    expected = HashingVectorizer(**model.params).transform(texts) @ model.coef
    assert _same_bits(HashedNgrams(model.params).dot(texts, model.coef), expected)
    assert _same_bits(model.logit(texts), expected + model.intercept - model.shift)


@pytest.mark.parametrize(
    "params",
    [
        {"n_features": 2**12, "alternate_sign": True, "ngram_range": (1, 3), "norm": "l2",
         "lowercase": True, "token_pattern": r"(?u)\b\w\w+\b"},
        {"n_features": 2**18, "alternate_sign": False, "ngram_range": (2, 2), "norm": None,
         "lowercase": False, "token_pattern": r"(?u)\b\w+\b"},
    ],
)  # fmt: skip
def test_other_parameters_too(params: dict):
    coef = np.random.default_rng(1).normal(size=params["n_features"])
    texts = _texts(200)
    expected = HashingVectorizer(**params).transform(texts) @ coef
    assert _same_bits(HashedNgrams(params).dot(texts, coef), expected)


def test_parameters_it_does_not_reproduce_are_refused():
    with pytest.raises(ValueError, match="binary"):
        HashedNgrams({"binary": True})
    with pytest.raises(ValueError, match="l1"):
        HashedNgrams({"norm": "l1"})
