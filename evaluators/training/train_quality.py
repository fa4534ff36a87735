"""Train the offline quality models and write them to ``evaluators/models/`` (JSON / npz).

    .venv/bin/python -m evaluators.training.train_quality all          # everything, ~1 min
    .venv/bin/python -m evaluators.training.train_quality request --out /tmp/m

Deterministic: fixed seeds, sorted inputs, rounded floats, so a retrain is byte-identical.
Only the *train* split of each dataset is read (see ``datasets.py``); the decision threshold
is chosen on out-of-fold predictions of that split (grouped by source), never on test.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.neural_network import MLPClassifier

from evaluators.builtin import _quality_features as qf
from evaluators.builtin._quality_lexicon import with_cues
from evaluators.builtin._quality_model import MODELS_DIR, dense_spec, read_model
from evaluators.builtin._quality_nlp import content_stems, words
from evaluators.builtin._sufficiency_features import sufficiency_features
from evaluators.training import datasets

SEED = 0
TEXT_VECTORIZER = {"n_features": 2**18, "ngram_range": [1, 2], "alternate_sign": False,
                   "norm": "l2", "lowercase": True, "token_pattern": r"(?u)\b\w+\b"}  # fmt: skip


def _best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    grid = np.unique(np.round(np.quantile(p, np.linspace(0.02, 0.98, 97)), 6))
    scores = [f1_score(y, p >= t, average="macro") for t in grid]
    return float(grid[int(np.argmax(scores))])


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _oof(make: Callable, x, y: np.ndarray, groups: list[str], weight=None) -> np.ndarray:
    """Out-of-fold probabilities, grouped so a source never informs its own prediction."""
    folds = min(5, len(set(groups)))
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        fit = {} if weight is None else {"sample_weight": weight[train]}
        oof[test] = make().fit(x[train], y[train], **fit).predict_proba(x[test])[:, 1]
    return oof


def _report(name: str, y: np.ndarray, oof: np.ndarray, threshold: float) -> dict:
    meta = {
        "train_rows": len(y),
        "cv_roc_auc": round(float(roc_auc_score(y, oof)), 4),
        "cv_macro_f1": round(float(f1_score(y, oof >= threshold, average="macro")), 4),
        "threshold": round(threshold, 6),
    }
    print(f"{name:28s} {meta}")
    return meta


def standardiser(x: np.ndarray, epsilon: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale (std + ``epsilon``) per column; a (near-)constant column (MiniLM has two
    dead dimensions, ~1e-33) keeps scale 1, so the rounded JSON never holds a zero to divide
    by."""
    std = x.std(axis=0)
    return x.mean(axis=0), np.where(std < 1e-6, 1.0, std + epsilon)


def fit_dense(rows: list[dict], featurise: Callable, hidden: int, out: Path, name: str) -> None:
    feats = [featurise(r)[0] for r in rows]
    names = sorted(feats[0])
    x = np.array([[f[k] for k in names] for f in feats], dtype=np.float64)
    y = np.array([r["label"] for r in rows])
    groups = [r["group"] for r in rows]
    mean, scale = standardiser(x, epsilon=1e-9)
    xs = (x - mean) / scale

    def make():
        if hidden:
            return MLPClassifier((hidden,), alpha=1e-2, max_iter=600, random_state=SEED,
                                 solver="lbfgs")  # fmt: skip
        return LogisticRegression(C=1.0, max_iter=2000)

    oof = _oof(make, xs, y, groups)
    threshold = _best_threshold(y, oof)
    meta = _report(name, y, oof, threshold)
    model = make().fit(xs, y)
    if hidden:
        layers = list(zip(model.coefs_, model.intercepts_, strict=True))
    else:
        layers = [(model.coef_.T, model.intercept_)]
    spec = dense_spec(names, mean, scale, layers, _logit(threshold), meta)
    _write_json(out / f"{name}.json", spec)


def fit_text(rows: list[dict], to_text: Callable, c: float, out: Path, name: str) -> None:
    """Hashed n-gram logistic regression; a row's optional ``weight`` is its sample weight."""
    from sklearn.feature_extraction.text import HashingVectorizer

    params = dict(TEXT_VECTORIZER, ngram_range=tuple(TEXT_VECTORIZER["ngram_range"]))
    x = HashingVectorizer(**params).transform([to_text(r) for r in rows])
    y = np.array([r["label"] for r in rows])
    groups = [r["group"] for r in rows]
    weight = np.array([float(r.get("weight", 1.0)) for r in rows])

    def make():
        return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")

    oof = _oof(make, x, y, groups, weight)
    threshold = _best_threshold(y, oof)
    meta = _report(name, y, oof, threshold)
    model = make().fit(x, y, sample_weight=weight)
    coef = model.coef_[0]
    keep = np.flatnonzero(np.abs(coef) > 1e-6)
    spec = {"kind": "hashed_text", "vectorizer": TEXT_VECTORIZER,
            "intercept": round(float(model.intercept_[0]), 8),
            "shift": round(_logit(threshold), 8), "meta": meta}  # fmt: skip
    _write_json(out / f"{name}.json", spec)
    with (out / f"{name}.npz").open("wb") as fh:  # np.savez on a handle: no zip timestamps
        np.savez(fh, indices=keep.astype(np.int32), values=np.round(coef[keep], 7))


def fit_request(out: Path) -> None:
    """The request model, plus ``meta.answer_shift`` for reading answer openings with it: the
    99th percentile of its logit on benign train-split answers (see ``safety.py``)."""
    name = "safety_request"
    fit_text(datasets.requests("train"), lambda r: with_cues(r["text"], "request"), 8.0, out,
             name)  # fmt: skip
    model = read_model(out, name)
    spec = json.loads((out / f"{name}.json").read_text(encoding="utf-8"))
    answers = datasets.benign_answers()
    logits = model.logit([with_cues(a, "request") for a in answers])
    spec["meta"]["answer_shift"] = round(float(np.quantile(logits, 0.99)), 6)
    print(f"{'':28s} answer_shift {spec['meta']['answer_shift']} ({len(answers)} answers)")
    _write_json(out / f"{name}.json", spec)


def _write_json(path: Path, spec: dict) -> None:
    path.write_text(json.dumps(spec, sort_keys=True, separators=(",", ":")) + "\n")


def train_idf(out: Path) -> None:
    """Document frequencies over the train splits' passages (SQuAD + HaluEval knowledge)."""
    docs = {c for r in datasets.sufficiency("train") for c in r["context"]}
    docs |= {c for r in datasets.groundedness("train") for c in r["context"]}
    df: Counter[str] = Counter()
    for doc in sorted(docs):
        df.update(set(content_stems(words(doc))))
    n = len(docs)
    table = {s: round(math.log((n + 1) / (c + 1)) + 1, 4) for s, c in sorted(df.items()) if c > 1}
    spec = {"kind": "idf", "n_docs": n, "default": round(math.log((n + 1) / 2) + 1, 4)}
    _write_json(out / "idf.json", {**spec, "idf": table})
    print(f"{'idf':28s} {{'docs': {n}, 'stems': {len(table)}}}")


def _reload_idf() -> None:
    from evaluators.builtin import _quality_model

    _quality_model._load.cache_clear()


COMMANDS: dict[str, Callable[[Path], None]] = {
    "idf": train_idf,
    "sufficiency": lambda out: fit_dense(
        datasets.sufficiency("train", augment=True),
        lambda r: sufficiency_features(r["question"], r["context"]),
        0, out, "context_sufficiency",
    ),
    "correctness": lambda out: fit_dense(
        datasets.correctness("train") + datasets.correctness_sentences("train"),
        lambda r: qf.reference_features(r["output"], r["expected"], r["question"]),
        16, out, "correctness_reference",
    ),
    "groundedness": lambda out: fit_dense(
        datasets.groundedness("train") * 3 + datasets.groundedness_sentences("train"),
        lambda r: qf.grounding_features(r["output"], r["context"][0], r["question"]),
        0, out, "correctness_grounding",
    ),
    "request": fit_request,
    "toxicity": lambda out: fit_text(
        datasets.toxicity("train"), lambda r: with_cues(r["text"], "toxicity"), 8.0, out,
        "safety_toxicity",
    ),
    "refusal": lambda out: fit_text(
        datasets.refusals("train"), lambda r: with_cues(r["text"][:600], "refusal"), 2.0, out,
        "safety_refusal",
    ),
}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=[*COMMANDS, "all"])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output directory")
    args = parser.parse_args(argv)
    if not datasets.available():
        print(f"datasets not found at {datasets.datasets_dir()} (set EVALSTREAM_DATASETS_DIR)")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    from evaluators.builtin import _quality_model

    if (args.out / "idf.json").exists() or args.model == "all":
        _quality_model.MODELS_DIR = args.out  # features read the IDF table being trained
    try:
        for name in COMMANDS if args.model == "all" else [args.model]:
            COMMANDS[name](args.out)
            if name == "idf":
                _reload_idf()  # later models' features read the IDF table just written
    finally:
        _quality_model.MODELS_DIR = MODELS_DIR
        _reload_idf()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
