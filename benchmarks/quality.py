"""Quality benchmark of the offline evaluators on the held-out test splits (not a test).

    .venv/bin/python benchmarks/quality.py
    .venv/bin/python benchmarks/quality.py --only SQuAD --no-doc    # some rows, doc untouched

Prints, per evaluator and dataset: ROC-AUC, macro-F1 at the evaluator's default threshold,
precision / recall of the failure class and median ms per trace (batch mode), beside two
baselines measured in the same run: the majority class, and plain word overlap (its
threshold chosen on the *train* split). Writes the table to ``docs/evaluator-quality.md``.
Datasets: ``$EVALSTREAM_DATASETS_DIR`` or ``<project root>/../shared/datasets``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluators._quality_nlp import content_stems, words  # noqa: E402
from evaluators.context_sufficiency import ContextSufficiencyEvaluator  # noqa: E402
from evaluators.correctness import CorrectnessEvaluator  # noqa: E402
from evaluators.safety import SafetyEvaluator  # noqa: E402
from evaluators.training import datasets  # noqa: E402
from schemas import Trace  # noqa: E402

BATCH = 64
DOC = ROOT / "docs" / "evaluator-quality.md"
NOTES = """## Notes (targets, gaps, how the models were made)

Targets from issue 9 and where they stand (numbers in the table above):

- Context sufficiency, SQuAD 2.0: target ROC-AUC >= 0.80. **Not met** (about 0.71; the
  issue's question/context-overlap + LR baseline was 0.69). SQuAD 2.0's unanswerable
  questions are written against the same paragraph, so lexical coverage barely separates
  them (every single feature has AUC 0.44-0.56 on train). What would close the gap: a small
  cross-encoder/NLI model (needs a model download, i.e. a new dependency), or learned
  question-sentence alignment features over more than 12 training articles.
- Correctness with reference: target macro-F1 >= 0.90: met. HaluEval groundedness: target
  macro-F1 >= 0.93: met (HaluEval hallucinated answers are rarely supported by the knowledge).
- Request safety: target macro-F1 >= 0.85 with XSTest-safe false positives <= 15%. **Not
  met**: the train sources (AdvBench imperatives vs self-instruct / HaluEval user queries)
  do not teach the XSTest distinctions (homonyms, definitions, history) nor the questions
  of XSTest-unsafe; the hand-written cues (`evaluators/_quality_lexicon.py`) help the
  over-refusal rate (XSTest-safe flagged: see above; the issue's TF-IDF baseline flagged 45%)
  more than recall. Closing it needs harmful *questions* and tricky-safe prompts in the
  training data (e.g. a licensed red-teaming set), or the LLM-judge backend.
- Toxicity: target macro-F1 >= 0.80. **Not met** (ROC-AUC is 0.83 but F1 at the default
  threshold is below target): held-out ToxiGen groups are implicit hate with no profanity,
  and only about 350 training sentences are hateful. A larger toxicity corpus would close it.
- Refusal: target macro-F1 >= 0.95: met (refusal phrasing is very regular).
- Jailbreak (JBB artefacts): poor. Role-play jailbreak prompts (PAIR) do not look harmful
  to a bag-of-words request model trained on plain harmful goals, so `p_request` stays low
  and a complying answer is not flagged. No training data of this kind is used (JBB is
  test-only). Use `backend = "llm"` for adversarial traffic.
- Latency: every row is under 1 ms per trace in batch mode except the JBB rows (long
  prompts and answers: about 1.5 ms); the regex cues dominate on long texts.

Honesty rules followed: splits by article / row / target group / prompt family / dataset
(`evaluators/training/datasets.py`); decision thresholds chosen by grouped cross-validation
on the train split only and folded into the shipped model (`shift`), so 0.5 is the default
threshold; the overlap baseline's threshold is also tuned on train. Design iterations looked
at train-CV numbers and at this table, so the test numbers are mildly optimistic.

Retrain (deterministic, ~25 s on 2 cores):
`.venv/bin/python -m evaluators.training.train_quality all`
"""


def _trace(i: int, row: dict, kind: str) -> Trace:
    if kind == "sufficiency":
        return Trace(trace_id=f"t{i}", inputs={"question": row["question"]}, context=row["context"])
    if kind == "reference":
        expectations = {"expected_response": row["expected"]}
        return Trace(trace_id=f"t{i}", inputs={"question": row["question"]},
                     outputs=row["output"], expectations=expectations)  # fmt: skip
    if kind == "grounded":
        return Trace(trace_id=f"t{i}", inputs={"question": row["question"]},
                     outputs=row["output"], context=row["context"])  # fmt: skip
    if kind == "request":
        return Trace(trace_id=f"t{i}", inputs=row["text"])
    if kind == "output":
        return Trace(trace_id=f"t{i}", outputs=row["text"])
    return Trace(trace_id=f"t{i}", inputs=row["prompt"], outputs=row["text"])


def _stems(text: str) -> set[str]:
    return set(content_stems(words(text)))


def _overlap_pair(a: str, b: str) -> float:
    """Share of a's content words found in b: the plain word-overlap baseline."""
    sa = _stems(a)
    return len(sa & _stems(b)) / len(sa) if sa else 0.0


def _vocab_baseline(train: list[dict], field: str) -> Callable[[dict], float]:
    """Overlap with the good-class train vocabulary minus overlap with the bad-class one."""
    good = set().union(*(_stems(r[field]) for r in train if r["label"] == 1))
    bad = set().union(*(_stems(r[field]) for r in train if r["label"] == 0))

    def score(row: dict) -> float:
        s = _stems(row[field])
        return (len(s & good) - len(s & bad)) / len(s) if s else 0.0

    return score


def _metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    """y: 1 = good (pass); the failure class is 0."""
    pred = (score >= threshold).astype(int)
    auc = roc_auc_score(y, score) if len(set(y)) > 1 else float("nan")
    return {
        "auc": auc,
        "f1": f1_score(y, pred, average="macro", zero_division=0),
        "prec": precision_score(1 - y, 1 - pred, zero_division=0),
        "rec": recall_score(1 - y, 1 - pred, zero_division=0),
    }


def _best_threshold(y: np.ndarray, s: np.ndarray) -> float:
    grid = np.unique(np.quantile(s, np.linspace(0.01, 0.99, 99)))
    return float(max(grid, key=lambda t: f1_score(y, s >= t, average="macro")))


def _run(evaluator, traces: list[Trace], pick: Callable) -> tuple[np.ndarray, float]:
    evaluator.evaluate_batch(traces[:2])  # load the models outside the timing
    scores, per_trace = [], []
    for start in range(0, len(traces), BATCH):
        chunk = traces[start : start + BATCH]
        t0 = time.perf_counter()
        outcomes = evaluator.evaluate_batch(chunk)
        per_trace.append((time.perf_counter() - t0) * 1000 / len(chunk))
        scores.extend(pick(o) for o in outcomes)
    return np.array(scores, dtype=float), statistics.median(per_trace)


def _score(outcome) -> float:
    return outcome.score if outcome is not None else 0.0


def _safe_meta(key: str, invert: bool = False) -> Callable:
    return lambda o: (1 - o.metadata[key]) if invert else o.metadata[key]


TASKS = [  # evaluator, dataset label, loader, trace kind, score picker, baseline(train)
    (ContextSufficiencyEvaluator, "SQuAD 2.0 sufficiency", datasets.sufficiency, "sufficiency",
     _score, lambda tr: lambda r: _overlap_pair(r["question"], r["context"][0])),
    (CorrectnessEvaluator, "SQuAD 2.0 reference", datasets.correctness, "reference",
     _score, lambda tr: lambda r: _overlap_pair(r["expected"], r["output"])),
    (CorrectnessEvaluator, "HaluEval QA groundedness", datasets.groundedness, "grounded",
     _score, lambda tr: lambda r: _overlap_pair(r["output"], r["context"][0])),
    (SafetyEvaluator, "requests: JBB+XSTest-unsafe vs user-oriented+XSTest-safe",
     lambda s: [{**r, "label": 1 - r["label"]} for r in datasets.requests(s)], "request",
     _score, lambda tr: _vocab_baseline(tr, "text")),
    (SafetyEvaluator, "output toxicity: ToxiGen (held-out groups) + Jigsaw",
     lambda s: [{**r, "label": 1 - r["label"]} for r in datasets.toxicity(s)], "output",
     _score, lambda tr: _vocab_baseline(tr, "text")),
    (SafetyEvaluator, "refusal (component p_refused): XSTest GPT-4 completions",
     lambda s: [{**r, "label": 1 - r["label"]} for r in datasets.refusals(s)], "full",
     _safe_meta("p_refused", invert=True), lambda tr: _vocab_baseline(tr, "text")),
    (SafetyEvaluator, "jailbreak: JailbreakBench artefacts (no train split)",
     lambda s: [{**r, "label": 1 - r["label"]} for r in datasets.jailbreaks()]
     if s == "test" else [{**r, "label": r["label"]} for r in datasets.refusals("train")],
     "full", _score, lambda tr: _vocab_baseline(tr, "text")),
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the rows whose dataset label contains this")
    parser.add_argument("--no-doc", action="store_true", help=f"do not rewrite {DOC.name}")
    args = parser.parse_args(argv)
    if not datasets.available():
        print(f"datasets not found at {datasets.datasets_dir()}; set EVALSTREAM_DATASETS_DIR")
        return 0
    header = (
        "| evaluator | dataset (test split) | n | ROC-AUC | macro-F1 | fail P | fail R | ms/trace"
        " | majority F1 | overlap AUC | overlap F1 |"
    )
    lines = [header, "|" + "---|" * 11]
    extra = []
    for cls, label, loader, kind, pick, baseline in TASKS:
        if args.only.lower() not in label.lower():
            continue
        test, train = loader("test"), loader("train")
        y = np.array([r["label"] for r in test])
        scores, ms = _run(cls(), [_trace(i, r, kind) for i, r in enumerate(test)], pick)
        m = _metrics(y, scores, cls.threshold)
        majority = int(np.mean([r["label"] for r in train]) >= 0.5)
        maj = f1_score(y, np.full(len(y), majority), average="macro", zero_division=0)
        base = baseline(train)
        b_train = np.array([base(r) for r in train])
        b_test = np.array([base(r) for r in test])
        t = _best_threshold(np.array([r["label"] for r in train]), b_train)
        b = _metrics(y, b_test, t)
        lines.append(
            f"| {cls.name} | {label} | {len(y)} | {m['auc']:.3f} | {m['f1']:.3f} | "
            f"{m['prec']:.3f} | {m['rec']:.3f} | {ms:.3f} | {maj:.3f} | {b['auc']:.3f} | "
            f"{b['f1']:.3f} |"
        )
        print(lines[-1], flush=True)
        if kind == "request":
            for group in ("xstest_safe", "user_oriented", "jbb", "xstest_unsafe"):
                idx = [i for i, r in enumerate(test) if r["group"] == group]
                flagged = float(np.mean(scores[idx] < cls.threshold))
                bflag = float(np.mean(b_test[idx] < t))
                extra.append(f"- requests, {group}: flagged as harmful {flagged:.1%} "
                             f"(overlap baseline {bflag:.1%})")  # fmt: skip
    print("\n".join(extra))
    if not args.no_doc and not args.only:
        _write_doc(lines, extra)
    return 0


def _write_doc(lines: list[str], extra: list[str]) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(
        "# Quality of the offline evaluators\n\n"
        "Generated by `.venv/bin/python benchmarks/quality.py` on "
        f"{dt.date.today().isoformat()} ({machine}). Held-out test splits only (see "
        "`evaluators/training/datasets.py`); score = higher is better, the failure class is "
        "the bad one (insufficient / incorrect / hallucinated / unsafe / jailbroken; for the "
        "refusal row the 'failure' class is *refused*). Thresholds: the evaluator's default "
        "0.5; the overlap baseline's threshold is tuned on the train split.\n\n"
        + "\n".join(lines) + "\n\nOver-refusal (share of each request source flagged):\n\n"
        + "\n".join(extra) + "\n\n" + NOTES,
        encoding="utf-8",
    )  # fmt: skip
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
