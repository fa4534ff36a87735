"""Hashed word n-grams scored against a coefficient vector, without scikit-learn at run time.

The hashed-text heads are trained with scikit-learn's ``HashingVectorizer`` (training code
only). Importing scikit-learn in the worker costs about 100 MB of RSS (it brings scipy,
pandas, joblib), so the run time does the same arithmetic here, step for step, so the
logits are bit for bit the ones of ``HashingVectorizer(**params).transform(texts) @ coef``
(checked against scikit-learn in tests/evaluators/builtin/test_hashed_ngrams.py):

- lower-case, ``re.findall(token_pattern)``, the n-grams of ``ngram_range`` (unigrams first,
  then bigrams, ..., joined by one space);
- each n-gram's MurmurHash3 (x86, 32-bit, signed, seed 0) of its UTF-8 bytes, column
  ``abs(h) % n_features``, value 1 (or ``sign(h)`` with ``alternate_sign``), duplicates summed,
  columns sorted;
- rows divided by their L2 norm (``norm="l2"``; squares summed in column order);
- the dot product with ``coef`` summed left to right in column order, as scipy's sparse
  matrix-vector product does.
"""

from __future__ import annotations

import re
from typing import Any

import mmh3
import numpy as np

SUPPORTED = {"alternate_sign", "lowercase", "n_features", "ngram_range", "norm", "token_pattern"}


class HashedNgrams:
    """The ``HashingVectorizer`` parameters of a shipped head (the subset the heads use)."""

    def __init__(self, params: dict[str, Any]) -> None:
        unknown = set(params) - SUPPORTED
        if unknown:
            raise ValueError(f"hashed n-gram parameters not supported at run time: {unknown}")
        self.n_features = int(params.get("n_features", 2**20))
        self.lowercase = bool(params.get("lowercase", True))
        self.alternate_sign = bool(params.get("alternate_sign", True))
        self.norm = params.get("norm", "l2")
        if self.norm not in ("l2", None):
            raise ValueError(f"hashed n-gram norm {self.norm!r} not supported at run time")
        low, high = params.get("ngram_range", (1, 1))
        self.ngram_range = (int(low), int(high))
        self.findall = re.compile(params.get("token_pattern", r"(?u)\b\w\w+\b")).findall

    def ngrams(self, text: str) -> list[str]:
        tokens = self.findall(text.lower() if self.lowercase else text)
        low, high = self.ngram_range
        if high == 1:
            return tokens
        out = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return out

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's sorted columns and their (normalised) values."""
        hashes = np.fromiter(
            (mmh3.hash(gram, 0, True) for gram in self.ngrams(text)), dtype=np.int64
        )
        columns = np.abs(hashes) % self.n_features
        signs = np.where(hashes >= 0, 1.0, -1.0) if self.alternate_sign else np.ones(len(hashes))
        unique, inverse = np.unique(columns, return_inverse=True)
        values = np.zeros(len(unique))
        np.add.at(values, inverse, signs)  # small integers: exact in any order
        if self.norm == "l2":
            total = np.add.accumulate(values * values)[-1] if len(values) else 0.0
            if total != 0.0:
                values = values / np.sqrt(total)
        return unique, values

    def dot(self, texts: list[str], coef: np.ndarray) -> np.ndarray:
        """``transform(texts) @ coef``: one float64 per text."""
        out = np.zeros(len(texts))
        for i, text in enumerate(texts):
            columns, values = self.row(text)
            if len(columns):
                out[i] = np.add.accumulate(values * coef[columns])[-1]
        return out
