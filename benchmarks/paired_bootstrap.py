"""Paired bootstrap of two per-tier runs on the same rows (``quality.py --scores-out``).

    .venv/bin/python benchmarks/paired_bootstrap.py BEFORE.jsonl AFTER.jsonl [--tiers encoder]

For every (task, held-out source, tier) present in both files with the same labels, resample
the rows with replacement (the same resample for both runs) and report after - before of
ROC-AUC, AUPRC and macro-F1 at the default cut: the point difference and the 95% percentile
interval. Deterministic (fixed seed).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 2000
SEED = 0


def _read(path: Path) -> dict[tuple[str, str, str], dict]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows[(r["task"], r["unit"], r["tier"])] = r
    return rows


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic with average ranks for ties (sklearn's value)."""
    ranks = rankdata(p)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ap(y: np.ndarray, p: np.ndarray) -> float:
    """Average precision, one step per distinct score (sklearn's definition)."""
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ps)), len(ps) - 1]
    tps = np.cumsum(ys)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _macro_f1(y: np.ndarray, flagged: np.ndarray) -> float:
    scores = []
    for c in (0, 1):
        tp = np.sum((flagged == c) & (y == c))
        denom = np.sum(flagged == c) + np.sum(y == c)
        scores.append(2 * tp / denom if denom else 0.0)
    return float(np.mean(scores))


def _metrics(y: np.ndarray, p: np.ndarray, flagged: np.ndarray) -> np.ndarray:
    return np.array([_auc(y, p), _ap(y, p), _macro_f1(y, flagged)])


def compare(before: dict, after: dict, resamples: int = RESAMPLES) -> dict:
    """Point metrics of both runs and the bootstrap interval of their difference."""
    y = np.asarray(before["y"])
    if y.tolist() != list(after["y"]):
        raise ValueError(f"{before['task']} / {before['unit']}: the runs' rows differ")
    pb, pa = np.asarray(before["p"]), np.asarray(after["p"])
    fb, fa = np.asarray(before["flagged"]), np.asarray(after["flagged"])
    rng = np.random.default_rng(SEED)
    diffs = []
    for _ in range(resamples):
        idx = rng.integers(0, len(y), len(y))
        if len(set(y[idx].tolist())) < 2:
            continue
        diffs.append(_metrics(y[idx], pa[idx], fa[idx]) - _metrics(y[idx], pb[idx], fb[idx]))
    lo, hi = np.percentile(np.array(diffs), [2.5, 97.5], axis=0)
    mb, ma = _metrics(y, pb, fb), _metrics(y, pa, fa)
    return {"n": len(y), "before": mb, "after": ma, "diff": ma - mb, "lo": lo, "hi": hi}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--tiers", default="", help="only these tiers (comma-separated)")
    args = parser.parse_args(argv)
    before, after = _read(args.before), _read(args.after)
    tiers = {t.strip() for t in args.tiers.split(",") if t.strip()}
    print("| task | held-out source | tier | n | ROC-AUC before / after, diff [95%] | "
          "AUPRC before / after, diff [95%] | macro-F1 before / after, diff [95%] |")  # fmt: skip
    print("|" + "---|" * 7)
    for key in sorted(set(before) & set(after)):
        task, unit, tier = key
        if (tiers and tier not in tiers) or len(set(before[key]["y"])) < 2:
            continue
        c = compare(before[key], after[key])
        cells = [f"{c['before'][m]:.3f} / {c['after'][m]:.3f}, {c['diff'][m]:+.3f} "
                 f"[{c['lo'][m]:+.3f}, {c['hi'][m]:+.3f}]" for m in range(3)]  # fmt: skip
        print(f"| {task} | {unit} | {tier} | {c['n']} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
