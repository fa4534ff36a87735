"""Held-out metrics of the cross-encoder against the current tiers on the same rows.

    # the current tiers on the SQuAD 2.0 dev half (shipped heads, default settings):
    PYTHONPATH=. .venv/bin/python -m evaluators.training.cross_encoder.evaluate \
        squad-baseline B.jsonl
    # the report (baselines: benchmarks/quality.py --scores-out files of the same rows):
    PYTHONPATH=. .venv/bin/python -m evaluators.training.cross_encoder.evaluate report \
        RUN/scores.jsonl BASE.jsonl [BASE2.jsonl ...]

The cross-encoder's cut is the one with the best balanced accuracy on its validation rows
(training sources only, per task); no held-out row is used to choose anything. Flagged = the
bad class (unsupported / insufficient), as in benchmarks/_quality_tiers.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)

TASK_NAMES = {"grounding": "groundedness (claim vs evidence)",
              "sufficiency": "context sufficiency (answerable)"}  # fmt: skip
RESAMPLES, SEED = 2000, 0


def _metrics(y: np.ndarray, p: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    return {
        "auc": roc_auc_score(y, p),
        "auprc": average_precision_score(y, p),
        "f1": f1_score(y, flagged, average="macro"),
        "bacc": balanced_accuracy_score(y, flagged),
        "flag_rate": float(np.mean(flagged)),
    }


def _best_cut(y_bad: np.ndarray, p_bad: np.ndarray) -> float:
    grid = np.unique(np.quantile(p_bad, np.linspace(0.01, 0.99, 197)))
    return float(max(grid, key=lambda t: balanced_accuracy_score(y_bad, p_bad >= t)))


def squad_baseline(out: Path) -> None:
    from evaluators.builtin.context_sufficiency import ContextSufficiencyEvaluator
    from evaluators.training.datasets import grounding as squad
    from schemas import Trace

    rows = squad.sufficiency("test")
    traces = [Trace(trace_id=f"a{i}", inputs={"question": r["question"]}, context=r["context"])
              for i, r in enumerate(rows)]  # fmt: skip
    y = [1 - r["label"] for r in rows]
    with out.open("w", encoding="utf-8") as fh:
        for tier, params in {"lexical": {"tiers": "lexical"}, "encoder": {"encoder_mode": "always"},
                             "cascade": {}}.items():  # fmt: skip
            ev = ContextSufficiencyEvaluator(**params)
            outcomes = []
            for start in range(0, len(traces), 64):
                outcomes.extend(ev.evaluate_batch(traces[start : start + 64]))
            p = [1.0 - o.score for o in outcomes]
            flagged = [int(o.score < 0.5) for o in outcomes]
            fh.write(json.dumps({"task": TASK_NAMES["sufficiency"], "unit": "squad2_dev_half",
                                 "tier": tier, "y": y, "p": p, "flagged": flagged,
                                 "questions": [r["question"] for r in rows]}) + "\n")  # fmt: skip
            print(tier, _metrics(np.array(y), np.array(p), np.array(flagged)), flush=True)


def report(scores_path: Path, baselines: list[Path]) -> list[str]:
    rows = [json.loads(line) for line in scores_path.read_text(encoding="utf-8").splitlines()]
    base = {}
    for path in baselines:
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            base[(r["task"], r["unit"], r["tier"])] = r
    lines = ["| task | held-out source | n | model | ROC-AUC | AUPRC | macro-F1 | bal. acc | "
             "flagged | diff ROC-AUC [95%] | diff bal. acc [95%] |", "|" + "---|" * 11]  # fmt: skip
    rng = np.random.default_rng(SEED)
    for task in ("grounding", "sufficiency"):
        val = [r for r in rows if r["task"] == task and r["split"] == "val"]
        cut = _best_cut(
            np.array([1 - r["label"] for r in val]), np.array([1 - r["p"] for r in val])
        )
        lines.append(f"| {task} | (validation cut {cut:.3f} from {len(val)} training-source rows) "
                     "| | | | | | | | | |")  # fmt: skip
        held = [r for r in rows if r["task"] == task and r["split"] == "eval"]
        for source in sorted({r["source"] for r in held}):
            mine = [r for r in held if r["source"] == source]
            keys = [(TASK_NAMES[task], source, t) for t in ("lexical", "encoder", "cascade")]
            ref = base.get(keys[0])
            if ref is not None:  # put our rows in the baseline's row order
                key = "questions" if "questions" in ref else None
                mine = _align(mine, ref, key)
            y = np.array([1 - r["label"] for r in mine])
            p = np.array([1 - r["p"] for r in mine])
            flagged = (p >= cut).astype(int)
            m = _metrics(y, p, flagged)
            lines.append(_line(task, source, len(y), "cross-encoder", m, "", ""))
            m05 = _metrics(y, p, (p >= 0.5).astype(int))
            lines.append(_line(task, source, len(y), "cross-encoder, cut 0.5", m05, "", ""))
            for k in keys:
                if k not in base:
                    continue
                b = base[k]
                by, bp, bf = np.array(b["y"]), np.array(b["p"]), np.array(b["flagged"])
                if not np.array_equal(by, y):
                    lines.append(f"| {task} | {source} | labels differ from {k[2]}: not compared |")
                    continue
                d_auc, d_bacc = [], []
                for _ in range(RESAMPLES):
                    i = rng.integers(0, len(y), len(y))
                    if len(set(y[i])) < 2:
                        continue
                    d_auc.append(roc_auc_score(y[i], p[i]) - roc_auc_score(y[i], bp[i]))
                    d_bacc.append(balanced_accuracy_score(y[i], flagged[i])
                                  - balanced_accuracy_score(y[i], bf[i]))  # fmt: skip
                mb = _metrics(by, bp, bf)
                lines.append(_line(task, source, len(y), f"current {k[2]}", mb,
                                   _diff(m["auc"] - mb["auc"], d_auc),
                                   _diff(m["bacc"] - mb["bacc"], d_bacc)))  # fmt: skip
    return lines


def _align(mine: list[dict], ref: dict, key: str | None) -> list[dict]:
    if key is None:
        return mine  # grounding: both are stable_sample(rows, 600, "hypothesis") in that order
    by_q: dict[str, list[dict]] = {}
    for r in mine:
        by_q.setdefault(r["a"], []).append(r)
    return [by_q[q].pop(0) for q in ref[key]]


def _diff(point: float, samples: list[float]) -> str:
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return f"{point:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _line(task, source, n, model, m, d_auc, d_bacc) -> str:
    return (
        f"| {task} | {source} | {n} | {model} | {m['auc']:.3f} | {m['auprc']:.3f} | "
        f"{m['f1']:.3f} | {m['bacc']:.3f} | {m['flag_rate']:.1%} | {d_auc} | {d_bacc} |"
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["squad-baseline"]:
        squad_baseline(Path(argv[1]))
        return 0
    if argv[:1] == ["report"]:
        print("\n".join(report(Path(argv[1]), [Path(a) for a in argv[2:]])))
        return 0
    print("usage: evaluate squad-baseline OUT | report SCORES BASE...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
