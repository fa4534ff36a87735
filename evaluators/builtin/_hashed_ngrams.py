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

    def dot(self, texts: list[str], coef: np.ndarray) -> np.ndarray:
        """``transform(texts) @ coef``: one float64 per text, the batch hashed at once."""
        hash_ = mmh3.hash
        grams = [[hash_(gram, 0, True) for gram in self.ngrams(text)] for text in texts]
        lengths = np.fromiter(map(len, grams), dtype=np.int64, count=len(texts))
        hashes = np.fromiter(
            (h for row in grams for h in row), dtype=np.int64, count=int(lengths.sum())
        )
        out = np.zeros(len(texts))
        if not len(hashes):
            return out
        n = self.n_features
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        keys = rows * n + np.abs(hashes) % n  # (row, column), sorted as scipy sorts columns
        unique, inverse = np.unique(keys, return_inverse=True)
        signs = np.where(hashes >= 0, 1.0, -1.0) if self.alternate_sign else np.ones(len(keys))
        values = np.bincount(inverse, weights=signs)  # sums of +-1: exact in any order
        rows, columns = unique // n, unique % n
        if self.norm == "l2":  # sums of squares of small integers: exact in any order too
            norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
            values = values / np.where(norms[rows] == 0.0, 1.0, norms[rows])
        products = values * coef[columns]
        bounds = np.searchsorted(rows, np.arange(len(texts) + 1))
        for i in np.flatnonzero(np.diff(bounds)):  # left to right, as scipy's csr_matvec
            out[i] = np.add.accumulate(products[bounds[i] : bounds[i + 1]])[-1]
        return out
