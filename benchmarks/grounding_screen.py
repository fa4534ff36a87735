"""Leave-one-source-out screen of groundedness head variants (features x model x rows).

    .venv/bin/python benchmarks/grounding_screen.py

The groundedness head's training rows (``train_encoder.train_grounding``: HaluEval + the
corpus's claim/evidence pairs, every source), featurised once from the stored fp32 embeddings
and token states; then for each claim-level source, a head fitted without it and scored on
its (training-sample) rows: ROC-AUC per held-out source and the mean. A quick screen of what
is worth a full ``quality.py`` held-out run (which also scores the cascade and the sample the
doc reports); docs/evaluator-quality.md (groundedness, quality14).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from evaluators.builtin import _encoder_features as ef
from evaluators.builtin import _quality_features as qf
from evaluators.training import datasets, embeddings
from evaluators.training.encoder_rows import pair_rows, shared_sample

HELD_OUT = ("factcheck_gpt", "summedits", "check_covid", "citation_integrity",
            "fever_symmetric", "dialfact")  # fmt: skip
NLI = {"negation_nli", "snli", "snli_counterfactual"}
COSINES = ("enc_cos", "enc_best_sentence", "enc_top2_sentences")


def _features() -> dict[str, np.ndarray]:
    rows = datasets.groundedness("train") * 3 + datasets.groundedness_sentences("train")
    rows = [{**r, "context": r["context"][0]} for r in shared_sample(rows, "output")]
    rows += [{"output": r["hypothesis"], "context": r["premise"], "question": "",
              "label": r["label"], "group": r["source"]}
             for r in pair_rows("grounding")]  # fmt: skip
    contexts = [r["context"] for r in rows]
    sims, _ = ef.similarity_features(embeddings.embed, [r["output"] for r in rows], contexts,
                                     contexts, embeddings.tokens, True)  # fmt: skip
    lex = [qf.grounding_features(r["output"], r["context"], r["question"])[0] for r in rows]
    names = sorted(lex[0])

    def cols(dicts: list[dict], keys) -> np.ndarray:
        return np.array([[d[k] for k in keys] for d in dicts])

    return {"lexical": cols(lex, names), "cosine": cols(sims, COSINES),
            "align": cols(sims, ef.ALIGNMENT), "uv": cols(sims, ef.INTERACTION[:384]),
            "ad": cols(sims, ef.INTERACTION[384:]),
            "y": np.array([r["label"] for r in rows]),
            "group": np.array([r["group"] for r in rows])}  # fmt: skip


def _lr(c: float):
    return lambda: LogisticRegression(C=c, max_iter=3000)


def _hgb():
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                          random_state=0)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    f = _features()
    y, group = f["y"], f["group"]
    base = ("lexical", "cosine")
    variants = [
        ("as shipped (lexical + cosines, LR)", base, _lr(1.0), None),
        ("+ alignment, LR", (*base, "align"), _lr(1.0), None),
        ("+ alignment, LR C=0.1", (*base, "align"), _lr(0.1), None),
        ("+ alignment, gradient boosting", (*base, "align"), _hgb, None),
        ("gradient boosting", base, _hgb, None),
        ("+ u*v, abs(u-v), LR C=0.001", (*base, "uv", "ad"), _lr(0.001), None),
        ("+ u*v, abs(u-v), LR C=0.01", (*base, "uv", "ad"), _lr(0.01), None),
        ("+ u*v, LR C=0.003", (*base, "uv"), _lr(0.003), None),
        ("without the NLI sources", base, _lr(1.0), lambda g: g not in NLI),
        ("claim sources only", base, _lr(1.0), lambda g: g in HELD_OUT),
    ]
    print("| variant | " + " | ".join(HELD_OUT) + " | mean |")
    print("|---|" + "---|" * (len(HELD_OUT) + 1))
    for name, parts, make, keep in variants:
        x = np.hstack([f[p] for p in parts])
        kept = np.array([keep(g) for g in group]) if keep else np.ones(len(y), bool)
        aucs = []
        for source in HELD_OUT:
            train, test = (group != source) & kept, group == source
            mean, std = x[train].mean(axis=0), x[train].std(axis=0)
            scale = np.where(std < 1e-6, 1.0, std)
            model = make().fit((x[train] - mean) / scale, y[train])
            aucs.append(roc_auc_score(y[test], model.predict_proba((x[test] - mean) / scale)[:, 1]))
        print(f"| {name} | " + " | ".join(f"{a:.3f}" for a in aucs) + f" | {np.mean(aucs):.3f} |",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
