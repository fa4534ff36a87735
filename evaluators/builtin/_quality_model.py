"""Shipped models: loaded lazily from plain JSON / ``.npz`` (never pickle) and cached.

Two kinds cover every offline quality evaluator:

* ``DenseModel`` - standardised hand-made features -> a small MLP or a logistic regression
  (an MLP with no hidden layer), written out as weight matrices.
* ``HashedTextModel`` - a logistic regression over hashed word n-grams (scikit-learn's
  stateless ``HashingVectorizer`` at training time, so only the coefficients ship, as a sparse
  ``.npz``; at run time the same hashing is ``_hashed_ngrams``, without scikit-learn).

Each model carries ``shift``: the logit at the decision threshold chosen by cross-validation on
the training split, subtracted so that probability 0.5 is the calibrated default threshold.
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

MODELS_DIR = Path(__file__).parent / "models"
_LOCK = threading.Lock()


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50.0, 50.0)))


class DenseModel:
    """Feature vector -> probability of the positive class."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.features: list[str] = list(spec["features"])
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.layers = [
            (np.asarray(layer["W"], dtype=np.float64), np.asarray(layer["b"], dtype=np.float64))
            for layer in spec["layers"]
        ]
        self.shift = float(spec.get("shift", 0.0))
        self.meta: dict[str, Any] = spec.get("meta", {})

    def logit(self, features: np.ndarray) -> np.ndarray:
        h = (np.atleast_2d(features) - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        return h[:, 0] - self.shift

    def predict(self, features: np.ndarray) -> np.ndarray:
        return sigmoid(self.logit(features))


class HashedTextModel:
    """Texts -> probability, via hashed n-grams and a sparse logistic-regression vector."""

    def __init__(self, spec: dict[str, Any], arrays: Any) -> None:
        from evaluators.builtin._hashed_ngrams import HashedNgrams

        self.params: dict[str, Any] = dict(spec["vectorizer"])
        self.params["ngram_range"] = tuple(self.params["ngram_range"])
        self.vectorizer = HashedNgrams(self.params)  # HashingVectorizer's, bit for bit
        coef = np.zeros(self.params["n_features"], dtype=np.float64)
        coef[arrays["indices"]] = arrays["values"]
        self.coef = coef
        self.intercept = float(spec["intercept"])
        self.shift = float(spec.get("shift", 0.0))
        self.meta: dict[str, Any] = spec.get("meta", {})

    def logit(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        return self.vectorizer.dot(texts, self.coef) + self.intercept - self.shift

    def predict(self, texts: list[str]) -> np.ndarray:
        return sigmoid(self.logit(texts))


class MulticlassModel:
    """Feature vector -> probabilities over named classes (a multinomial logistic regression)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.classes: list[str] = list(spec["classes"])
        self.mean = np.asarray(spec["mean"], dtype=np.float64)
        self.scale = np.asarray(spec["scale"], dtype=np.float64)
        self.w = np.asarray(spec["W"], dtype=np.float64)
        self.b = np.asarray(spec["b"], dtype=np.float64)
        self.meta: dict[str, Any] = spec.get("meta", {})

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(features) - self.mean) / self.scale) @ self.w + self.b
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def read_model(directory: Path, name: str) -> Any:
    """``<directory>/<name>.json`` (and ``.npz``) as a model, or the plain table it holds."""
    spec = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    kind = spec.get("kind")
    if kind == "dense":
        return DenseModel(spec)
    if kind == "linear_multiclass":
        return MulticlassModel(spec)
    if kind == "hashed_text":
        with np.load(directory / f"{name}.npz", allow_pickle=False) as arrays:
            return HashedTextModel(spec, {k: arrays[k] for k in arrays.files})
    return spec


@cache
def _load(name: str) -> Any:
    return read_model(MODELS_DIR, name)


def load(name: str) -> Any:
    """The model (or plain table) ``models/<name>.json``, built once per process."""
    with _LOCK:  # evaluators run in runner threads; build each model only once
        return _load(name)


def dense_spec(
    features: list[str],
    mean: np.ndarray,
    scale: np.ndarray,
    layers: list[tuple[np.ndarray, np.ndarray]],
    shift: float,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The JSON form of a ``DenseModel`` (used by the training script)."""
    return {
        "kind": "dense",
        "features": features,
        "mean": [round(float(v), 8) for v in mean],
        "scale": [round(float(v), 8) for v in scale],
        "layers": [{"W": np.round(w, 8).tolist(), "b": np.round(b, 8).tolist()} for w, b in layers],
        "shift": round(float(shift), 8),
        "meta": meta,
    }
