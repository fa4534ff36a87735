"""Quality benchmark of the offline evaluators on the held-out test splits (not a test).

    .venv/bin/python benchmarks/quality.py
    .venv/bin/python benchmarks/quality.py --only SQuAD --no-doc    # some rows, doc untouched
    .venv/bin/python benchmarks/quality.py --tiers-only --only refusal --no-doc
    .venv/bin/python benchmarks/quality.py --tiers-only --units gpt-4 --bands 0.05,0.1 --no-doc
    .venv/bin/python benchmarks/quality.py --cost-only --cost-configs lexical,cascade,band=0.1

Two parts. First, per tier and held-out *source* of the pinned public corpora
(``benchmarks/_quality_tiers.py``): lexical, encoder and the default cascade, with ROC-AUC,
AUPRC, macro-F1, balanced accuracy, the share each tier decided and ms per trace. Second, the
lexical tier on the shared datasets' test splits, as before the encoder tier:

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
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluators.builtin._quality_nlp import content_stems, words  # noqa: E402
from evaluators.builtin.context_sufficiency import ContextSufficiencyEvaluator  # noqa: E402
from evaluators.builtin.correctness import CorrectnessEvaluator  # noqa: E402
from evaluators.builtin.safety import SafetyEvaluator  # noqa: E402
from evaluators.training import datasets  # noqa: E402
from schemas import Trace  # noqa: E402

BATCH = 64
DOC = ROOT / "docs" / "evaluator-quality.md"
NOTES = """## Notes (targets, gaps, how the models were made)

Targets from issue 9 and where they stand (numbers in the table above):

- Context sufficiency, SQuAD 2.0: target ROC-AUC >= 0.80. **Not met** (about 0.78; was
  0.71 before the question-sentence features; the issue's overlap + LR baseline was 0.69).
  SQuAD 2.0's unanswerable questions are written against the same paragraph (an entity or
  number swapped, a negation or antonym added), so whole-paragraph overlap barely separates
  them. What helped: comparing the question with its best-matching sentence / two-sentence
  window (rare words it lacks, name and number swaps, negation and antonym mismatch, an
  answer candidate of the asked-for type) and training rows with one detail of an
  answerable question swapped (train split only). A hidden layer or gradient boosting on
  the same features is no better (train-CV), so lexical features are near their ceiling.
  What would close the gap: a cross-encoder / NLI model. None ships in a trustworthy PyPI
  package (one unofficial wheel carries all-MiniLM-L6-v2 but needs sentence-transformers +
  torch), and a 6-layer transformer costs about 1.4 G multiply-adds per 128-token pair,
  milliseconds per trace on this CPU, against the 1 ms budget: use `backend = "llm"`.
- Correctness with reference: target macro-F1 >= 0.90: met. HaluEval groundedness: target
  macro-F1 >= 0.93: met, down from 0.997 since the model also learned full-sentence,
  paraphrased answers (see the sentence-level check above: before this, groundedness
  passed 0% of the demo's right sentence answers and the reference mode passed about a third
  of its wrong ones, e.g. "60" vs "600 requests per minute"). Sentence rows are built from
  the train splits only: declarative answers from the question's words, light rewording,
  and wrong twins with a near-miss number, another entity of the same type or a flipped
  negation. Groundedness on paraphrases is still the weak spot (about half of right
  paraphrases pass): a word-based model cannot tell a rewording from an unsupported claim
  well. Apps that paraphrase should send `expectations` or use `backend = "llm"`. The
  loose matcher's synonym table (`evaluators/_quality_nlp.py`) is generic but includes
  pairs that occur in the demo facts (buy/purchase, press/click), and the ten hand-written
  cases were visible while the features were designed, so the check is mildly optimistic.
- Request safety: target macro-F1 >= 0.85 with XSTest-safe false positives <= 15%. The
  false-positive half is met (XSTest-safe flagged: see above), macro-F1 is **not** (about
  0.73; recall on JBB goals and XSTest-unsafe is about 50%). XSTest is split by prompt
  family (4 families train, 4 test, a safe type always with its `contrast_` twins), JBB
  goals that are also AdvBench goals are dropped from test. Held-out families are new
  *kinds* of trick (safe contexts, definitions, safe targets, history), which four train
  families and hand-written cues (`evaluators/_quality_lexicon.py`) only partly teach.
  Closing it needs many more harmful *questions* and tricky-safe prompts in training (e.g.
  a licensed red-teaming set), or the LLM-judge backend. Tried and rejected (2026-11-25):
  choosing the cut by train-CV for the best macro-F1 with <= 15% of XSTest-safe flagged
  picks today's cut again (the train-CV F1 peak is there, not a cap effect); character
  2-4-grams raised train-CV weighted F1 0.852 -> 0.880 and held-out macro-F1 to 0.785, but
  flagged 28% of the held-out XSTest-safe prompts (train-CV said 11%: four train families
  are a noisy guide), so they were not shipped.
- Toxicity: target macro-F1 >= 0.80. **Not met** (about 0.78, ROC-AUC 0.89): held-out
  ToxiGen groups are implicit hate with no profanity; generalisation cues ("X are all ...",
  predicative negative traits, "everyone knows") and counter-cues (statistics, positive
  framing) helped, but only about 350 training sentences are hateful.
- Refusal: target macro-F1 >= 0.95: met (refusal phrasing is very regular).
- Jailbreak (JBB artefacts): poor but better. Role-play prompts (PAIR) do not look harmful
  to the request model, so the request model also reads the *answer's* opening (a
  complying answer restates its task), with a stricter threshold calibrated on benign
  train answers (about 1% of them cross it). No JBB data is used in training; JBB
  behaviours whose goal is an AdvBench goal are left out of this row. Use
  `backend = "llm"` for adversarial traffic.
- Latency: every row is under 1 ms per trace in batch mode; the JBB row (long prompts
  and answers) is the slowest; the regex cues dominate on long texts.

Honesty rules followed: splits by article / row / target group / prompt family / dataset
(`evaluators/training/datasets/`); decision thresholds chosen by grouped cross-validation
on the train split only and folded into the shipped model (`shift`), so 0.5 is the default
threshold; the overlap baseline's threshold is also tuned on train. Design iterations looked
at train-CV numbers and at this table, so the test numbers are mildly optimistic.

Retrain (deterministic, byte-identical models; about 1 minute on 2 cores):
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


SENTENCE_CHECK = "demo sample traces (sentence answers, not used in training)"


def _rate(evaluator, traces: list[Trace]) -> tuple[int, int]:
    outcomes = evaluator.evaluate_batch(traces)
    return sum(o is not None and o.score >= evaluator.threshold for o in outcomes), len(traces)


def sentence_check() -> list[str]:
    """Correctness on full-sentence, paraphrased answers: pass rates of right vs wrong answers.

    Two sources, neither used in training: the demo's ``pipeline/sample_traces`` (a RAG
    support bot, 5 facts) and ``benchmarks/_sentence_cases.py`` (10 hand-written facts of
    other apps, with near-miss numbers, wrong entities and negation flips as wrong answers).
    Both modes: reference (``expected_response``) and groundedness (context only).
    """
    from benchmarks._sentence_cases import CASES
    from pipeline.tools.demo.samples import _FACTS, sample_traces

    ev = CorrectnessEvaluator()
    docs = {doc: (q, good, bad) for q, doc, _, good, bad in _FACTS}
    buckets: dict[str, list[Trace]] = {}
    for raw in sample_traces(1000, seed=7):
        if raw.get("tags", {}).get("app") != "support-bot" or raw.get("outputs") is None:
            continue
        question = raw["inputs"]["question"]
        own = next(d for d, (q, _, _) in docs.items() if q == question)
        right = raw["outputs"] == docs[own][1]
        if raw.get("expectations"):
            key = f"demo reference, {'right' if right else 'wrong'}"
        elif own in raw["context"]:
            key = f"demo grounded, {'right' if right else 'wrong'}"
        else:
            key = "demo grounded, answer's document not retrieved"
        buckets.setdefault(key, []).append(Trace.model_validate(raw))
    for k, (question, context, expected, good, bads) in enumerate(CASES):
        q = {"question": question}
        exp = {"expected_response": expected}
        for kind, outs in (("right", [good]), ("wrong", bads)):
            for j, out in enumerate(outs):
                buckets.setdefault(f"cases reference, {kind}", []).append(
                    Trace(trace_id=f"c{k}r{j}", inputs=q, outputs=out, expectations=exp)
                )
                buckets.setdefault(f"cases grounded, {kind}", []).append(
                    Trace(trace_id=f"c{k}g{j}", inputs=q, outputs=out, context=[context])
                )
    lines = [
        "Share of answers passed (score >= 0.5); a good evaluator passes the right ones and fails"
        " the wrong ones. `demo`: the support bot of `pipeline/tools/demo/samples.py`"
        " (1,000 traces, seed 7); `cases`: 10 hand-written facts of other apps"
        " (`benchmarks/_sentence_cases.py`); `reference` = with `expected_response`,"
        " `grounded` = context only.",
        "",
    ]
    for key in sorted(buckets):
        passed, n = _rate(ev, buckets[key])
        lines.append(f"- {key}: {passed}/{n} ({passed / n:.0%})")
    print("\n".join(lines), flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the rows whose dataset label contains this")
    parser.add_argument("--no-doc", action="store_true", help=f"do not rewrite {DOC.name}")
    parser.add_argument("--tiers-only", action="store_true", help="only the per-tier part")
    parser.add_argument("--units", default="", help="held-out sources to run (comma-separated)")
    parser.add_argument(
        "--bands", default="", help="extra cascade bands for the trade-off curve, e.g. 0.05,0.1,0.2"
    )
    parser.add_argument(
        "--precision",
        default="fp32",
        help="encoder(s) of the quality rows: fp32 (the stored vectors), int8 (the run-time "
        "int8 encoder) or fp32,int8",
    )
    parser.add_argument(
        "--heads-dir",
        type=Path,
        default=None,
        help="keep the held-out heads here and reuse them in later runs",
    )
    parser.add_argument(
        "--per-source",
        type=int,
        default=150,
        help="rows per held-out source in the per-tier part (stable sample)",
    )
    parser.add_argument(
        "--alignment",
        choices=["shipped", "none", "all"],
        default="shipped",
        help="which held-out pair heads read the word-piece alignment features: as shipped "
        "(sufficiency), none or all three (the comparison of "
        "docs/evaluator-quality.md; give each its own --heads-dir)",
    )
    parser.add_argument(
        "--safety-head",
        default="shipped",
        help="kind of the held-out safety heads (train_encoder.SAFETY_HEADS): shipped, linear "
        "or mlp for all four, or per head, e.g. content=linear,refusal=mlp (the others as "
        "shipped); give each its own --heads-dir",
    )
    parser.add_argument(
        "--interactions",
        default="shipped",
        help="held-out pair heads that read the embedding-interaction features "
        "(train_encoder.INTERACTION_HEADS): shipped, none, or comma-separated "
        "reference,grounding,sufficiency; give each its own --heads-dir",
    )
    parser.add_argument(
        "--pair-hidden",
        default="shipped",
        help="hidden units of the held-out pair heads (train_encoder.PAIR_HIDDEN; 0 = logistic "
        "regression), per head, e.g. grounding=16 (the others as shipped); give each its own "
        "--heads-dir",
    )
    parser.add_argument(
        "--scores-out",
        type=Path,
        default=None,
        help="write every row's label and score per tier here (JSON lines), for "
        "benchmarks/paired_bootstrap.py",
    )
    parser.add_argument(
        "--no-timing", action="store_true", help="skip the cost line of the per-tier part"
    )
    parser.add_argument(
        "--cost-only",
        action="store_true",
        help="only the cost of the three evaluators together (no retraining)",
    )
    parser.add_argument(
        "--cost-configs",
        default="lexical,cascade",
        help="with --cost-only: lexical, cascade, no-request-content, always, band=<b>",
    )
    parser.add_argument(
        "--per-unit",
        type=int,
        default=8,
        help="with --cost-only: traces per held-out unit in the mix",
    )
    args = parser.parse_args(argv)
    from benchmarks import _quality_cost, _quality_tiers

    if args.cost_only:
        _quality_cost.run(_quality_cost.configs(args.cost_configs), args.per_unit)
        return 0
    if args.alignment != "shipped":
        from evaluators.training import train_encoder

        heads = train_encoder.PAIR_HEADS if args.alignment == "all" else ()
        train_encoder.ALIGNED_HEADS = frozenset(heads)
    if args.safety_head != "shipped":
        from evaluators.training import train_encoder

        train_encoder.SAFETY_HEADS = _safety_heads(train_encoder.SAFETY_HEADS, args.safety_head)
    if args.interactions != "shipped":
        from evaluators.training import train_encoder

        chosen = [p for p in args.interactions.split(",") if p and p != "none"]
        if any(p not in PAIR_HEAD_NAMES for p in chosen):
            raise SystemExit(f"--interactions: {args.interactions!r} is not none or "
                             "<reference|grounding|sufficiency>[,...]")  # fmt: skip
        train_encoder.INTERACTION_HEADS = frozenset(PAIR_HEAD_NAMES[p] for p in chosen)
    if args.pair_hidden != "shipped":
        from evaluators.training import train_encoder

        train_encoder.PAIR_HIDDEN = _pair_hidden(train_encoder.PAIR_HIDDEN, args.pair_hidden)
    tier_lines, tier_notes = _quality_tiers.run(
        args.only,
        args.units,
        args.bands,
        args.precision,
        not args.no_timing,
        args.heads_dir,
        args.per_source,
        args.scores_out,
    )
    if args.tiers_only:
        return 0
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
        evaluator = cls(tiers="lexical")
        scores, ms = _run(evaluator, [_trace(i, r, kind) for i, r in enumerate(test)], pick)
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
    sentences = sentence_check() if args.only.lower() in SENTENCE_CHECK.lower() else []
    if not args.no_doc and not args.only:
        _write_doc([*tier_lines, "", *tier_notes], lines, extra, sentences)
    return 0


def _head_overrides(
    shipped: dict[str, Any], spec: str, names: dict[str, str], parse: Callable, error: str
) -> dict[str, Any]:
    """``head=value`` pairs of ``spec`` over the ``shipped`` heads (``names``: the short name
    of each head; ``parse``: the value, or None when it is not one); ``error`` (with
    ``{part}``) is the one line for a wrong pair."""
    heads = dict(shipped)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        head, _, value = part.partition("=")
        parsed = parse(value)
        if head not in names or parsed is None:
            raise SystemExit(error.format(part=part))
        heads[names[head]] = parsed
    return heads


def _safety_heads(shipped: dict[str, str], spec: str) -> dict[str, str]:
    """``--safety-head``: one kind for all heads, or ``head=kind`` pairs over the shipped."""
    kinds = ("linear", "mlp")
    if spec in kinds:
        return dict.fromkeys(shipped, spec)
    names = {n.removeprefix("safety_").removesuffix("_encoder"): n for n in shipped}
    error = "--safety-head: {part!r} is not <request|content|refusal|jailbreak>=<linear|mlp>"
    return _head_overrides(shipped, spec, names, lambda k: k if k in kinds else None, error)


PAIR_HEAD_NAMES = {"reference": "correctness_reference_encoder",
                   "grounding": "correctness_grounding_encoder",
                   "sufficiency": "context_sufficiency_encoder"}  # fmt: skip


def _pair_hidden(shipped: dict[str, int], spec: str) -> dict[str, int]:
    """``--pair-hidden``: ``head=units`` pairs over the shipped (0 = logistic regression)."""
    error = "--pair-hidden: {part!r} is not <reference|grounding|sufficiency>=<units>"

    def units(value: str) -> int | None:
        return int(value) if value.isdigit() else None

    return _head_overrides(shipped, spec, PAIR_HEAD_NAMES, units, error)


def _write_doc(tiers: list[str], lines: list[str], extra: list[str], sentences: list[str]) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(
        "# Quality of the offline evaluators\n\n"
        "Generated by `.venv/bin/python benchmarks/quality.py` on "
        f"{dt.date.today().isoformat()} ({machine}).\n\n"
        "## Per tier, held-out sources of the pinned corpora\n\n"
        "Encoder heads retrained without the held-out source (or, for refusals, model); a "
        "stable sample of at most 200 rows per source; * = the lexical models saw this "
        "source (the shared datasets), so its lexical row is not held-out. The flagged class: "
        "harmful / refused / jailbroken / incorrect / unsupported / insufficient. ms per trace "
        "in batches of 64 on this (shared, busy) machine. See `docs/encoder-tier.md`.\n\n"
        + "\n".join(tiers) + "\n\n"
        "## Lexical tier, shared datasets' test splits\n\n"
        "Held-out test splits only (see "
        "`evaluators/training/datasets/`); score = higher is better, the failure class is "
        "the bad one (insufficient / incorrect / hallucinated / unsafe / jailbroken; for the "
        "refusal row the 'failure' class is *refused*). Thresholds: the evaluator's default "
        "0.5; the overlap baseline's threshold is tuned on the train split.\n\n"
        + "\n".join(lines) + "\n\nOver-refusal (share of each request source flagged):\n\n"
        + "\n".join(extra) + "\n\n## Full-sentence answers (external check, not trained on)\n\n"
        + "\n".join(sentences) + "\n\n" + NOTES,
        encoding="utf-8",
    )  # fmt: skip
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
