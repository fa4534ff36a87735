"""Per tier, per held-out source: the quality evaluators on the pinned public corpora.

For every source of a task, the encoder heads are retrained without that source
(``train_encoder --exclude-source``, into a temporary directory) and the evaluators are run on
a stable sample of its rows with three configurations: the lexical tier alone, the encoder
tier on every trace, and the default cascade (encoder only inside the uncertainty band).
The lexical models themselves were trained on the shared datasets' train splits, some of
whose sources reappear here (XSTest, ToxiGen, JailbreakBench, SQuAD): the lexical column is
therefore not held-out for those sources (marked *), the encoder heads always are. The
held-out retrains of the safety heads fit once, cut at the balanced-LR 0.5, where the
shipped heads take their cut from out-of-fold predictions (an hour of CPU saved).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    roc_auc_score,
)

from evaluators.builtin.cascade import CascadeSettings, annotate
from evaluators.builtin.context_sufficiency import ContextSufficiencyEvaluator
from evaluators.builtin.correctness import CorrectnessEvaluator
from evaluators.builtin.encoder import load_encoder
from evaluators.builtin.safety import SafetyEvaluator
from evaluators.training import embeddings, train_encoder
from evaluators.training.corpus._sources import stable_sample
from evaluators.training.encoder_rows import corpus_rows
from schemas import Trace

BATCH = 64
PER_SOURCE = 150
LEXICAL_SEEN = {"xstest_prompts", "xstest_completions", "toxigen_prompts",
                "jailbreakbench_artifacts", "self_instruct", "qnli_squad_heldout"}  # fmt: skip
CONFIGS = {"lexical": {"tiers": "lexical"}, "encoder": {"encoder_mode": "always"}, "cascade": {}}


@dataclass(frozen=True)
class Task:
    name: str
    corpus: str
    evaluator: type
    heads: str  # train_encoder command retrained per held-out source
    to_trace: Callable[[int, dict], Trace]
    bad: Callable[[dict], int]  # 1 = the class the evaluator should flag
    p_bad: Callable  # result -> probability of the flagged class
    flagged: Callable  # result -> bool
    key: str = "text"
    holdout: str = "source"


def _fail(o) -> float:
    return 1.0 - (o.score if o is not None and o.score is not None else 1.0)


def _unsafe(o) -> bool:
    return o is not None and o.score is not None and o.score < 0.5


TASKS = [
    Task("content safety (output)", "safety_content", SafetyEvaluator, "safety",
         lambda i, r: Trace(trace_id=f"c{i}", outputs=r["text"]), lambda r: r["label"],
         _fail, _unsafe),
    Task("content safety (request)", "safety_content", SafetyEvaluator, "safety",
         lambda i, r: Trace(trace_id=f"q{i}", inputs=r["text"]), lambda r: r["label"],
         _fail, _unsafe),
    Task("request safety", "safety_request", SafetyEvaluator, "safety",
         lambda i, r: Trace(trace_id=f"r{i}", inputs=r["text"]), lambda r: r["label"],
         _fail, _unsafe),
    Task("refusal", "refusal", SafetyEvaluator, "safety",
         lambda i, r: Trace(trace_id=f"f{i}", inputs=r["prompt"] or "", outputs=r["response"]),
         lambda r: r["label"], lambda o: o.metadata["p_refused"] or 0.0,
         lambda o: bool(o.metadata["refused"]), key="response", holdout="model"),
    Task("jailbreak", "jailbreak", SafetyEvaluator, "safety",
         lambda i, r: Trace(trace_id=f"j{i}", inputs=r["prompt"], outputs=r["response"]),
         lambda r: r["label"], lambda o: o.metadata["p_jailbreak"],
         lambda o: o.label == "jailbreak", key="response"),
    Task("correctness vs paraphrased reference", "paraphrase", CorrectnessEvaluator, "reference",
         lambda i, r: Trace(trace_id=f"p{i}", outputs=r["b"],
                            expectations={"expected_response": r["a"]}),
         lambda r: 1 - r["label"], _fail, _unsafe, key="b"),
    Task("groundedness (claim vs evidence)", "grounding", CorrectnessEvaluator, "grounding",
         lambda i, r: Trace(trace_id=f"g{i}", outputs=r["hypothesis"], context=[r["premise"]]),
         lambda r: 1 - r["label"], _fail, _unsafe, key="hypothesis"),
    Task("context sufficiency (answerable)", "answerable", ContextSufficiencyEvaluator,
         "sufficiency",
         lambda i, r: Trace(trace_id=f"a{i}", inputs={"question": r["question"]},
                            context=[r["context"]]),
         lambda r: 1 - r["label"], _fail, _unsafe, key="question"),
]  # fmt: skip


class StoredEncoder:
    """The real encoder, but a text embedded for training comes from the training store:
    the same fp32 vector, without paying for it again. Quality only; timings use
    ``timing()`` with a fresh encoder."""

    def __init__(self) -> None:
        self.real = embeddings.encoder()

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        todo = []
        for i, text in enumerate(texts):
            vector = embeddings.known(text) if text.strip() else None
            if vector is None:
                todo.append(i)
            else:
                out[i] = vector
        if todo:
            out[todo] = self.real.encode([texts[i] for i in todo])
        return out

    def encode_tokens(self, texts: list[str]) -> list:
        return embeddings.tokens(texts)


def timing(traces: list[Trace], batch: int = BATCH) -> tuple[float, float, float, dict]:
    """ms per trace of the three quality evaluators together, default cascade, fresh encoder
    (no warm LRU), one thread: median and p99 over batches; and the share each tier decided."""
    encoder = load_encoder()
    evaluators = [cls() for cls in (SafetyEvaluator, CorrectnessEvaluator,
                                    ContextSufficiencyEvaluator)]  # fmt: skip
    for ev in evaluators:
        ev.encoder = encoder
        ev.evaluate_batch(traces[:2])
    encoder._recent.clear()
    per_trace, tiers = [], []
    for start in range(0, len(traces), batch):
        chunk = traces[start : start + batch]
        t0 = time.perf_counter()
        for ev in evaluators:
            for o in ev.evaluate_batch(chunk):
                for r in o if isinstance(o, list) else [o]:
                    if r is not None:
                        tiers.append(r.metadata.get("tier"))
        per_trace.append((time.perf_counter() - t0) * 1000 / len(chunk))
    share = {t: tiers.count(t) / max(len(tiers), 1) for t in ("lexical", "encoder", "llm")}
    p99 = float(np.percentile(per_trace, 99))
    return statistics.mean(per_trace), statistics.median(per_trace), p99, share


def _metrics(y: np.ndarray, p: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    both = len(set(y)) > 1
    return {
        "auc": roc_auc_score(y, p) if both else float("nan"),
        "auprc": average_precision_score(y, p) if both else float("nan"),
        "f1": f1_score(y, flagged, average="macro", zero_division=0) if both else float("nan"),
        "bacc": balanced_accuracy_score(y, flagged) if both else float("nan"),
        "flag_rate": float(np.mean(flagged)),
    }


def _outcomes(evaluator, traces: list[Trace]) -> list:
    outcomes = []
    for start in range(0, len(traces), BATCH):
        outcomes.extend(evaluator.evaluate_batch(traces[start : start + BATCH]))
    return outcomes


def _scored(outcomes: list, task: Task):
    p = np.array([task.p_bad(o) for o in outcomes], dtype=float)
    flagged = np.array([task.flagged(o) for o in outcomes], dtype=int)
    tiers = [o.metadata.get("tier", "?") for o in outcomes if o is not None]
    return p, flagged, tiers


def _units(task: Task) -> list[str]:
    rows = corpus_rows(task.corpus)
    field = "model" if task.holdout == "model" else "source"
    return sorted({r[field] for r in rows if r.get(field)})


def _cascaded(
    router, traces: list, lexical: list, encoder: list, band: float
) -> tuple[list, float]:
    """The default cascade's outcomes for ``band``, from the lexical and the encoder-always
    outcomes of the same traces: exactly what the cascade picks, the encoder's outcome where
    the evaluator ``router`` sends the lexical one on (``sends_to_encoder``: the band, and
    the lexical verdicts it does not let stand alone), merged as the cascade merges it
    (``merge_encoder``); and the share sent."""
    settings = CascadeSettings(band=band)
    sent = [router.sends_to_encoder(t, o, settings) for t, o in zip(traces, lexical, strict=True)]
    out = [annotate(router.merge_encoder(t, o, e, settings), tier="encoder") if s else o
           for t, s, o, e in zip(traces, sent, lexical, encoder, strict=True)]  # fmt: skip
    return out, sum(sent) / max(sum(o is not None for o in lexical), 1)


class _Int8Encoder:
    """The run-time int8 encoder (no stored fp32 vectors): its quality, not the training's."""

    def __init__(self) -> None:
        from dataclasses import replace

        from evaluators.builtin.encoder import EncoderSettings

        self.real = load_encoder(replace(EncoderSettings.from_env(), precision="int8"))

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.real.encode(texts)

    def encode_tokens(self, texts: list[str]) -> list:
        return self.real.encode_tokens(texts)


def _row(task: Task, unit: str, n: int, tier: str, m: dict, share: str) -> str:
    return (f"| {task.name} | {unit} | {n} | {tier} | {m['auc']:.3f} | {m['auprc']:.3f} | "
            f"{m['f1']:.3f} | {m['bacc']:.3f} | {m['flag_rate']:.1%} | {share} |")  # fmt: skip


def run(only: str = "", units: str = "", bands: str = "", precision: str = "fp32",
        timed_cost: bool = True, heads_dir: Path | None = None, per_source: int = PER_SOURCE,
        scores_out: Path | None = None) -> tuple[list[str], list[str]]:  # fmt: skip
    """The table rows and notes; ``units``: comma-separated held-out sources to run (all when
    empty: about an hour on two busy cores, most of it retraining heads per source).

    ``bands``: comma-separated extra cascade bands (the trade-off curve: share sent to the
    encoder vs quality), computed from the lexical and encoder-always outcomes. ``precision``:
    comma-separated, ``fp32`` (the stored fp32 vectors the heads were trained on) and/or
    ``int8`` (the run-time int8 encoder): encoder and cascade rows for each. ``heads_dir``:
    keep the held-out heads there (``<heads>-<unit>``) and reuse them in a later run.
    ``per_source``: rows per held-out source (a stable sample: the smaller is in the larger).
    ``scores_out``: every row's label, score and flag per tier, as JSON lines (the paired
    comparison of two runs on the same rows: ``benchmarks/paired_bootstrap.py``)."""
    wanted = {u.strip() for u in units.split(",") if u.strip()}
    curve = [float(b) for b in bands.split(",") if b.strip()]
    header = ("| task | held-out source | n | tier | ROC-AUC | AUPRC | macro-F1 | bal. acc | "
              "flagged | decided by lexical / encoder / llm |")  # fmt: skip
    lines, notes = [header, "|" + "---|" * 10], []
    train_encoder.THRESHOLD_CV = False  # one fit per head and held-out source (see docstring)
    trained: dict[tuple[str, str], Path] = {}
    encoders = {p: _Int8Encoder() if p == "int8" else StoredEncoder()
                for p in precision.split(",")}  # fmt: skip
    default_band = CascadeSettings().band
    timed: list[Trace] = []
    workdir = heads_dir or Path(tempfile.mkdtemp(prefix="evalstream-heldout-"))
    train_encoder.FIT_CACHE = workdir / "fit-cache"  # heads a held-out source leaves unchanged
    scores = scores_out.open("w", encoding="utf-8") if scores_out else None
    for task in TASKS:
        if only.lower() not in task.name.lower():
            continue
        for unit in _units(task):
            if wanted and unit not in wanted:
                continue
            field = "model" if task.holdout == "model" else "source"
            rows = [r for r in corpus_rows(task.corpus) if r.get(field) == unit]
            if task.corpus == "jailbreak":
                rows = [r for r in rows if (r.get("response") or "").strip()]
            rows = stable_sample(rows, per_source, task.key)
            if (task.heads, unit) not in trained:
                out = workdir / f"{task.heads}-{unit}"
                if not (out / "complete").is_file():
                    out.mkdir(parents=True, exist_ok=True)
                    train_encoder.COMMANDS[task.heads](out, unit)
                    (out / "complete").write_text("")
                trained[(task.heads, unit)] = out
            y = np.array([task.bad(r) for r in rows])
            traces = [task.to_trace(i, r) for i, r in enumerate(rows)]
            timed += traces[:16]
            seen = "*" if unit in LEXICAL_SEEN else ""
            outcomes = {}
            for tier, params in CONFIGS.items():
                for name, encoder in encoders.items():
                    if tier == "cascade" or (tier == "lexical" and outcomes):
                        continue
                    evaluator = task.evaluator(**params)
                    evaluator.models_dir = trained[(task.heads, unit)]
                    evaluator.encoder = encoder
                    key = tier if tier == "lexical" or len(encoders) == 1 else f"{tier} {name}"
                    outcomes[key] = _outcomes(evaluator, traces)
            router = task.evaluator()  # the cascade's routing of a lexical outcome
            configs = [("lexical", None, None)]
            for name in encoders:
                suffix = "" if len(encoders) == 1 else f" {name}"
                configs += [
                    (f"encoder{suffix}", None, None),
                    (f"cascade{suffix}", default_band, f"encoder{suffix}"),
                ]
                configs += [(f"cascade{suffix} band {b:g}", b, f"encoder{suffix}") for b in curve]
            for tier, band, source in configs:
                if band is None:
                    chosen = outcomes[tier]
                else:
                    chosen, _ = _cascaded(router, traces, outcomes["lexical"], outcomes[source],
                                          band)  # fmt: skip
                p, flagged, tiers = _scored(chosen, task)
                m = _metrics(y, p, flagged)
                if scores is not None:
                    scores.write(json.dumps({"task": task.name, "unit": unit, "tier": tier,
                                             "y": y.tolist(), "p": p.round(6).tolist(),
                                             "flagged": flagged.tolist()}) + "\n")  # fmt: skip
                    scores.flush()
                share = " / ".join(f"{tiers.count(t) / max(len(tiers), 1):.0%}"
                                   for t in ("lexical", "encoder", "llm"))  # fmt: skip
                label = f"{unit}{seen if tier == 'lexical' else ''}"
                lines.append(_row(task, label, len(y), tier, m, share))
                print(lines[-1], flush=True)
                if task.corpus == "safety_request" and unit == "xstest_prompts":
                    safe = [i for i, r in enumerate(rows) if r["label"] == 0]
                    notes.append(f"- XSTest safe prompts flagged as harmful, {tier}: "
                                 f"{np.mean(flagged[safe]):.1%} of {len(safe)}")  # fmt: skip
    if scores is not None:
        scores.close()
    if timed and timed_cost:
        mean, median, p99, share = timing(timed)
        decided = ", ".join(f"{t} {v:.0%}" for t, v in share.items())
        notes.append(f"- Cost, three quality evaluators together, default cascade, one thread, "
                     f"fresh encoder, {len(timed)} traces mixed from all tasks in batches of "
                     f"{BATCH}: mean {mean:.2f}, median {median:.2f}, p99 {p99:.2f} ms per trace "
                     "(per batch); "
                     f"results decided by {decided}")  # fmt: skip
        print(notes[-1], flush=True)
    return lines, notes
