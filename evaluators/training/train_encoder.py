"""Train the encoder tier's heads and write them to ``evaluators/builtin/models/`` (JSON).

    .venv/bin/python -m evaluators.training.train_encoder all
    .venv/bin/python -m evaluators.training.train_encoder safety --exclude-source X --out DIR

Each head is a logistic regression (or a small MLP) over the sentence embedding and the
lexical tier's own score / features (``evaluators/builtin/_encoder_features.py``). Rows come
from the pinned corpora (``corpus/data``) and the shared datasets' train splits. The decision
threshold is chosen on out-of-fold predictions grouped by *source* (or by model for
refusals), so a source never tunes its own cut; ``--exclude-source`` leaves one source out
entirely (the benchmark's held-out-source runs). Deterministic: cached fp32 embeddings,
fixed seeds, sorted rows, rounded floats.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from evaluators.builtin import _encoder_features as ef
from evaluators.builtin import _quality_features as qf
from evaluators.builtin import _quality_model
from evaluators.builtin._quality_model import MODELS_DIR, dense_spec
from evaluators.builtin._sufficiency_features import sufficiency_features
from evaluators.training import datasets, embeddings
from evaluators.training.corpus._sources import sample_per_source
from evaluators.training.encoder_rows import pair_rows, safety_rows, shared_sample
from evaluators.training.session_windows import opening_rows, window_rows
from evaluators.training.train_quality import (
    _best_threshold,
    _logit,
    _oof,
    _report,
    _write_json,
    fit_dense,
    standardiser,
)

EMBED_FEATURES = [f"e{i}" for i in range(384)]
THRESHOLD_CV = True
"""False (benchmarks' held-out-source retrains): one fit per head, cut at the balanced 0.5."""
PAIR_HEADS = ("correctness_reference_encoder", "correctness_grounding_encoder",
              "context_sufficiency_encoder")  # fmt: skip
ALIGNED_HEADS = frozenset({"context_sufficiency_encoder"})
"""Pair heads that also read the word-piece alignment features (``ef.alignment_features``):
the sufficiency head, whose held-out ROC-AUC and macro-F1 they raised a little on both
sources; the groundedness head ranked no better with them and the reference head worse, so
those stay without (and cost no token work at run time). docs/evaluator-quality.md
(2026-12-02); the benchmark's ``--alignment none|all`` retrains its held-out heads otherwise."""
INTERACTION_HEADS: frozenset[str] = frozenset()
"""Pair heads that also read the embedding-interaction features (``ef.INTERACTION``); the
benchmark's ``--interactions`` retrains its held-out heads otherwise."""
PAIR_HIDDEN = {"correctness_reference_encoder": 16, "correctness_grounding_encoder": 0,
               "context_sufficiency_encoder": 0}  # fmt: skip
"""Hidden units of each pair head (0: logistic regression, else a one-hidden-layer MLP,
``train_quality.fit_dense``); the benchmark's ``--pair-hidden`` retrains its held-out heads
otherwise."""


def _lexical(name: str):
    model = _quality_model.load(name)
    if FIT_CACHE is None:
        return model
    return _LOGIT_MEMO.setdefault(name, _MemoLogit(model))


class _MemoLogit:
    """Benchmarks only (with ``FIT_CACHE``): a lexical model's logit per distinct text, kept
    across the held-out retrains of one process (a hashed-text logit depends on its own row
    only, so the memo returns exactly what a new call would)."""

    def __init__(self, model) -> None:
        self.model, self.known = model, {}

    def logit(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.known))
        if todo:
            self.known.update(zip(todo, self.model.logit(todo), strict=True))
        return np.array([self.known[t] for t in texts], dtype=np.float64)


_LOGIT_MEMO: dict[str, _MemoLogit] = {}


SAFETY_HEADS: dict[str, str] = {
    "safety_request_encoder": "linear",
    "safety_content_encoder": "mlp",
    "safety_refusal_encoder": "linear",
    "safety_jailbreak_encoder": "linear",
}
"""The kind of each safety head: ``linear`` (balanced logistic regression) or ``mlp``
(``MLP_HIDDEN`` ReLU units, see ``_BalancedMLP``). Both export as a ``DenseModel`` (weight
arrays in JSON, numpy at run time). Content is an MLP (better held-out ranking, paired
bootstrap); the refusal MLP called short courtesies refusals ("You're welcome." 0.99: its
negatives were all long answers) and, with short non-refusals added, still calls "Go to
Settings and open Security." one (0.96), the jailbreak MLP missed the multi-turn jailbreak window of
tests/evaluators/builtin/test_session_builtin.py (p 0.35; linear 0.66: its corpora hold
single prompts) and the request MLP ranked worse on XSTest, so those stay linear. The
benchmark's ``--safety-head`` retrains its held-out heads otherwise (docs/evaluator-quality.md)."""
JAILBREAK_WINDOWS = False
"""Train the jailbreak head also on conversation-shaped rows (``session_windows``: earlier
benign user turns before a corpus prompt, and short answers: a corpus answer's opening).
Off: with them the jailbreak MLP ranked better on held-out JailbreakBench but still missed
the multi-turn window of test_session_builtin (p 0.03), and the linear head with them was not
measured (docs/evaluator-quality.md, jail14)."""
MLP_HIDDEN = 128
SEED = 0
FIT_CACHE: Path | None = None
"""Benchmarks only: a directory where each fitted head is kept under the hash of its inputs,
so held-out retrains whose rows for a head do not change (the source is not in that head's
data) copy it instead of fitting again. The fit is deterministic, so the copy is exact."""


class _BalancedMLP:
    """One hidden layer, class-balanced sample weights (as the LR's ``class_weight``), L2
    penalty, early stopping on a fixed 10% of the rows: deterministic for a fixed seed."""

    def __init__(self) -> None:
        self.model = MLPClassifier((MLP_HIDDEN,), alpha=1e-3, batch_size=256,
                                   learning_rate_init=1e-3, max_iter=200, early_stopping=True,
                                   validation_fraction=0.1, n_iter_no_change=8,
                                   random_state=SEED)  # fmt: skip

    def fit(self, x: np.ndarray, y: np.ndarray) -> _BalancedMLP:
        counts = np.bincount(y, minlength=2).astype(float)
        weight = len(y) / (2.0 * np.maximum(counts, 1.0))
        self.model.fit(x, y, sample_weight=weight[y])
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(x)

    def layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self.model.coefs_, self.model.intercepts_, strict=True))


def fit_linear(x: np.ndarray, y: np.ndarray, groups: list[str], names: list[str], c: float,
               out: Path, name: str, meta: dict | None = None) -> None:  # fmt: skip
    """Standardised head (``SAFETY_HEADS[name]``: logistic regression or a small MLP),
    threshold from out-of-fold predictions."""
    kind = SAFETY_HEADS.get(name, "linear")
    cached = _fit_cache_path(x, y, names, c, name, kind, (meta, len(set(groups)) >= 2))
    if cached is not None and cached.is_file():
        shutil.copyfile(cached, out / f"{name}.json")
        print(f"{name:28s} (same inputs as an earlier fit: copied)")
        return
    mean, scale = standardiser(x)
    xs = (x - mean) / scale

    def make():
        if kind == "mlp":
            return _BalancedMLP()
        return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")

    if THRESHOLD_CV and len(set(groups)) >= 2:
        # The cut comes from row-level folds (interleaved, deterministic): most corpus
        # sources hold one class only, and folds that leave out a one-class source give
        # probabilities on another scale, which pulled the pooled cut to 0.93-0.99. Whole
        # sources are held out by the benchmark instead (--exclude-source).
        oof = _oof(make, xs, y, [str(i % 5) for i in range(len(y))])
        threshold = _best_threshold(y, oof)
        report = _report(name, y, oof, threshold)
    else:  # one source only: no honest out-of-fold cut, keep the balanced default
        threshold, report = 0.5, {"train_rows": len(y), "threshold": 0.5}
    model = make().fit(xs, y)
    layers = model.layers() if kind == "mlp" else [(model.coef_.T, model.intercept_)]
    report = {**report, "head": kind} if kind != "linear" else report
    spec = dense_spec(names, mean, scale, layers, _logit(threshold),
                      {**report, **(meta or {})})  # fmt: skip
    _write_json(out / f"{name}.json", spec)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / f"{name}.json", cached)


def _fit_cache_path(x: np.ndarray, y: np.ndarray, names: list[str], c: float, name: str,
                    kind: str, extra: tuple) -> Path | None:  # fmt: skip
    if FIT_CACHE is None:
        return None
    key = hashlib.sha256(repr((name, kind, c, MLP_HIDDEN, THRESHOLD_CV, names,
                               extra)).encode())  # fmt: skip
    key.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    key.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    return FIT_CACHE / f"{name}-{key.hexdigest()[:24]}.json"


def fit_categories(x: np.ndarray, labels: list[str], out: Path, name: str) -> None:
    """Multinomial logistic regression: which kind of harm (metadata only)."""
    classes = sorted(set(labels))
    y = np.array([classes.index(c) for c in labels])
    mean, scale = standardiser(x)
    model = LogisticRegression(C=0.5, max_iter=3000).fit((x - mean) / scale, y)
    spec = {
        "kind": "linear_multiclass",
        "classes": classes,
        "mean": [round(float(v), 8) for v in mean],
        "scale": [round(float(v), 8) for v in scale],
        "W": np.round(model.coef_.T, 8).tolist(),
        "b": np.round(model.intercept_, 8).tolist(),
        "meta": {"train_rows": len(y)},
    }
    _write_json(out / f"{name}.json", spec)
    print(f"{name:28s} {{'train_rows': {len(y)}, 'classes': {len(classes)}}}")


def train_safety(out: Path, exclude: str | None = None) -> None:
    rows = safety_rows(exclude)
    embed = embeddings.embed
    req = rows["safety_request"]
    eq = ef.embed_requests(embed, [r["text"] for r in req])
    x = ef.request_matrix(_lexical, eq, [r["text"] for r in req])
    fit_linear(x, _labels(req), _groups(req), [*EMBED_FEATURES, "lexical"], 0.5, out,
               "safety_request_encoder")  # fmt: skip
    content = rows["safety_content"]
    ec = ef.embed_answers(embed, [r["text"] for r in content])
    x = ef.content_matrix(_lexical, ec, [r["text"] for r in content])
    fit_linear(x, _labels(content), _groups(content), [*EMBED_FEATURES, "lexical"], 0.5, out,
               "safety_content_encoder")  # fmt: skip
    refusal = rows["refusal"] + _complying_answers(rows)
    ea = ef.embed_answers(embed, [r["response"] for r in refusal])
    x = ef.refusal_matrix(_lexical, ea, [r["response"] for r in refusal])
    groups = [r.get("model") or r["source"] for r in refusal]
    fit_linear(x, _labels(refusal), groups, [*EMBED_FEATURES, "lexical"], 0.5, out,
               "safety_refusal_encoder")  # fmt: skip
    jail = rows["jailbreak"]
    if JAILBREAK_WINDOWS:
        jail = jail + window_rows(jail, req) + opening_rows(jail)
    prompts, answers = [r["prompt"] for r in jail], [r["response"] or "" for r in jail]
    x = ef.jailbreak_matrix(_lexical, ef.embed_requests(embed, prompts),
                            ef.embed_answers(embed, answers), prompts, answers)  # fmt: skip
    names = [*EMBED_FEATURES, *(f"a{n}" for n in EMBED_FEATURES), "lexical_request",
             "lexical_refusal"]  # fmt: skip
    fit_linear(x, _labels(jail), _groups(jail), names, 0.5, out, "safety_jailbreak_encoder")

    def harmful(rows: list[dict]) -> list[int]:
        return [i for i, r in enumerate(rows)
                if r["label"] == 1 and r.get("category") not in (None, "none")]  # fmt: skip

    hc, hr = harmful(content), harmful(req)
    xs = np.vstack([ec[hc], eq[hr]])
    labels = [content[i]["category"] for i in hc] + [req[i]["category"] for i in hr]
    fit_categories(xs, labels, out, "safety_category_encoder")


NON_REFUSALS_PER_SOURCE = 500


def _complying_answers(rows: dict[str, list[dict]]) -> list[dict]:
    """Negatives the refusal corpus lacks: answers that complied with a jailbreak and harmful
    statements (a stable sample per source). Without them the refusal head, trained on polite
    answers only, calls an unfamiliar hateful text a refusal, and a refusal is never toxic."""
    out = [{"response": r["response"], "label": 0, "source": r["source"], "model": None}
           for r in rows["jailbreak"] if r["label"] == 1]  # fmt: skip
    harmful = [r for r in rows["safety_content"] if r["label"] == 1]
    for r in sample_per_source(harmful, NON_REFUSALS_PER_SOURCE, "text"):
        out.append({"response": r["text"], "label": 0, "source": r["source"], "model": None})
    return out


def _labels(rows: list[dict]) -> np.ndarray:
    return np.array([int(r["label"]) for r in rows])


def _groups(rows: list[dict]) -> list[str]:
    return [r["source"] for r in rows]


def _with_similarity(rows: list[dict], texts: list[str], others: list[str],
                     contexts: list[str] | None, head: str) -> list[dict]:  # fmt: skip
    tokens = embeddings.tokens if head in ALIGNED_HEADS else None
    sims, _ = ef.similarity_features(embeddings.embed, texts, others, contexts, tokens,
                                     head in INTERACTION_HEADS)  # fmt: skip
    return [{**r, "_sim": sim} for r, sim in zip(rows, sims, strict=True)]


def train_reference(out: Path, exclude: str | None = None) -> None:
    """Answer vs reference: SQuAD answers and sentence rewrites (train split) + paraphrase
    pairs of the corpus (``a`` the reference, ``b`` the answer)."""
    rows = datasets.correctness("train") + datasets.correctness_sentences("train")
    rows = shared_sample(rows, "output")
    rows += [{"output": r["b"], "expected": r["a"], "question": "", "label": r["label"],
              "group": r["source"]} for r in pair_rows("paraphrase", exclude)]  # fmt: skip
    rows = _with_similarity(rows, [r["output"] for r in rows], [r["expected"] for r in rows], None,
                            "correctness_reference_encoder")  # fmt: skip
    fit_dense(rows, lambda r: ({**qf.reference_features(r["output"], r["expected"],
                                                        r["question"])[0], **r["_sim"]}, None),
              PAIR_HIDDEN["correctness_reference_encoder"], out,
              "correctness_reference_encoder")  # fmt: skip


def train_grounding(out: Path, exclude: str | None = None) -> None:
    """Answer vs context: HaluEval QA + sentence rewrites (train split) + claim/evidence
    pairs of the corpus."""
    rows = datasets.groundedness("train") * 3 + datasets.groundedness_sentences("train")
    rows = [{**r, "context": r["context"][0]} for r in shared_sample(rows, "output")]
    rows += [{"output": r["hypothesis"], "context": r["premise"], "question": "",
              "label": r["label"], "group": r["source"]}
             for r in pair_rows("grounding", exclude)]  # fmt: skip
    contexts = [r["context"] for r in rows]
    rows = _with_similarity(rows, [r["output"] for r in rows], contexts, contexts,
                            "correctness_grounding_encoder")  # fmt: skip
    fit_dense(rows, lambda r: ({**qf.grounding_features(r["output"], r["context"],
                                                        r["question"])[0], **r["_sim"]}, None),
              PAIR_HIDDEN["correctness_grounding_encoder"], out,
              "correctness_grounding_encoder")  # fmt: skip


def train_sufficiency(out: Path, exclude: str | None = None) -> None:
    """Question vs context: SQuAD 2.0 (train split, augmented as the lexical model) + the
    corpus's answerable / unanswerable pairs."""
    rows = shared_sample(datasets.sufficiency("train", augment=True), "question")
    rows += [{"question": r["question"], "context": [r["context"]], "label": r["label"],
              "group": r["source"]} for r in pair_rows("answerable", exclude)]  # fmt: skip
    contexts = ["\n".join(r["context"]) for r in rows]
    rows = _with_similarity(rows, [r["question"] for r in rows], contexts, contexts,
                            "context_sufficiency_encoder")  # fmt: skip

    def featurise(r: dict) -> tuple[dict, None]:
        return {**sufficiency_features(r["question"], r["context"])[0], **r["_sim"]}, None

    fit_dense(
        rows,
        featurise,
        PAIR_HIDDEN["context_sufficiency_encoder"],
        out,
        "context_sufficiency_encoder",
    )


COMMANDS: dict[str, Callable[[Path, str | None], None]] = {
    "safety": train_safety,
    "reference": train_reference,
    "grounding": train_grounding,
    "sufficiency": train_sufficiency,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("heads", choices=[*COMMANDS, "all"])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="output directory")
    parser.add_argument("--exclude-source", default=None, help="leave this source out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS if args.heads == "all" else [args.heads]:
        COMMANDS[name](args.out, args.exclude_source)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
