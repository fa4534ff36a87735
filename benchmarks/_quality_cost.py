"""Cost of the three quality evaluators together, per trace, in batch mode (not a test).

CPU time of the process (one onnxruntime thread, evaluators called one after another: the
cost on one core, which a busy shared machine distorts far less than wall time) and wall
time per batch. A stable mix of held-out corpus rows (``PER_UNIT`` of every source of every
task of ``_quality_tiers.TASKS``), each trace given to safety, correctness and context
sufficiency in
turn, batches of ``BATCH``, a fresh encoder (empty LRU) per configuration. The configurations
run one after another in the same process, the lexical-only one first: the baseline of the
same run. Quality is not measured here (``_quality_tiers``); this is the price list.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks._quality_tiers import TASKS, _units
from evaluators.builtin import _cue_scan
from evaluators.builtin.context_sufficiency import ContextSufficiencyEvaluator
from evaluators.builtin.correctness import CorrectnessEvaluator
from evaluators.builtin.encoder import EncoderSettings, load_encoder
from evaluators.builtin.safety import SafetyEvaluator
from evaluators.training.corpus._sources import stable_sample
from evaluators.training.encoder_rows import corpus_rows
from schemas import Trace

BATCH = 64
PER_UNIT = 8
EVALUATORS = (SafetyEvaluator, CorrectnessEvaluator, ContextSufficiencyEvaluator)


def mixed_traces(per_unit: int = PER_UNIT) -> list[Trace]:
    """``per_unit`` stable rows of every held-out unit of every task, interleaved by task."""
    by_task: list[list[Trace]] = []
    for task in TASKS:
        field = "model" if task.holdout == "model" else "source"
        rows_all = corpus_rows(task.corpus)
        traces: list[Trace] = []
        for unit in _units(task):
            rows = [r for r in rows_all if r.get(field) == unit]
            if task.corpus == "jailbreak":
                rows = [r for r in rows if (r.get("response") or "").strip()]
            rows = stable_sample(rows, per_unit, task.key)
            traces += [task.to_trace(len(traces) + i, r) for i, r in enumerate(rows)]
        by_task.append(traces)
    mixed: list[Trace] = []
    for k in range(max(len(t) for t in by_task)):
        mixed += [t[k] for t in by_task if k < len(t)]
    return [tr.model_copy(update={"trace_id": f"m{i}"}) for i, tr in enumerate(mixed)]


def measure(traces: list[Trace], params: dict, settings: EncoderSettings | None = None,
            batch: int = BATCH) -> dict:  # fmt: skip
    """ms per trace (mean / median / p99 over batches) and the share of results per tier."""
    params = dict(params)
    if params.pop("_re", False):
        for group in ("request", "toxicity", "refusal"):
            _cue_scan._SCANNERS[group] = None
    else:
        _cue_scan._SCANNERS.clear()
    models_dir = params.pop("_models_dir", None)
    safety_only = params.pop("_safety", {})
    encoder = load_encoder(settings) if params.get("tiers") != "lexical" else None
    evaluators = [cls(**params, **(safety_only if cls is SafetyEvaluator else {}))
                  for cls in EVALUATORS]  # fmt: skip
    for ev in evaluators:
        ev.encoder = encoder
        if models_dir is not None:
            ev.models_dir = models_dir
        ev.evaluate_batch(traces[:2])  # models and graph loaded outside the timing
    if encoder is not None:
        encoder._recent.clear()
        encoder._recent_tokens.clear()
    per_trace, cpu_per_trace, tiers, texts, tokens = [], [], [], 0, 0
    for start in range(0, len(traces), batch):
        chunk = traces[start : start + batch]
        before = getattr(encoder, "embedded", 0)
        tokens_before = getattr(encoder, "tokens", 0)
        t0, c0 = time.perf_counter(), time.process_time()
        for ev in evaluators:
            for o in ev.evaluate_batch(chunk):
                for r in o if isinstance(o, list) else [o]:
                    if r is not None:
                        tiers.append(r.metadata.get("tier"))
        per_trace.append((time.perf_counter() - t0) * 1000 / len(chunk))
        cpu_per_trace.append((time.process_time() - c0) * 1000 / len(chunk))
        texts += getattr(encoder, "embedded", 0) - before
        tokens += getattr(encoder, "tokens", 0) - tokens_before
    share = {t: tiers.count(t) / max(len(tiers), 1) for t in ("lexical", "encoder", "llm")}
    return {
        "mean": statistics.mean(per_trace),
        "median": statistics.median(per_trace),
        "p99": float(np.percentile(per_trace, 99)),
        "cpu_mean": statistics.mean(cpu_per_trace),
        "share": share,
        "texts_per_trace": texts / len(traces),
        "tokens_per_trace": tokens / len(traces),
    }


def configs(spec: str) -> dict[str, dict]:
    """``lexical`` (lexical tier only), ``lexical-re`` (the same with the safety cues searched
    by ``re``, one search each, as before ``_cue_scan``), ``cascade`` (the defaults),
    ``always`` (encoder on every trace), ``band=<b>`` (the cascade with that band),
    ``no-request-content`` / ``lexical-no-request-content`` (the cascade / the lexical tier
    with safety's ``request_content`` off),
    ``heads=<dir>`` (the default cascade with the heads of ``dir``, e.g. earlier ones)."""
    out: dict[str, dict] = {}
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        if name == "lexical":
            out[name] = {"tiers": "lexical"}
        elif name == "lexical-re":
            out["lexical, cues by re (before Hyperscan)"] = {"tiers": "lexical", "_re": True}
        elif name == "cascade":
            out["cascade (defaults)"] = {}
        elif name == "lexical-no-request-content":
            out["lexical, request_content off"] = {
                "tiers": "lexical",
                "_safety": {"request_content": False},
            }
        elif name == "no-request-content":
            out["cascade, request_content off"] = {"_safety": {"request_content": False}}
        elif name == "always":
            out["encoder on every trace"] = {"encoder_mode": "always"}
        elif name.startswith("heads="):
            out[f"cascade, heads of {name[6:]}"] = {"_models_dir": Path(name[6:])}
        elif name.startswith("band="):
            out[f"cascade, band {name[5:]}"] = {"band": float(name[5:])}
        else:
            raise SystemExit(f"unknown cost configuration {name!r}")
    return out


def run(
    configs: dict[str, dict], per_unit: int = PER_UNIT, precision: str | None = None
) -> list[str]:
    traces = mixed_traces(per_unit)
    settings = EncoderSettings.from_env()
    if precision:
        settings = replace(settings, precision=precision)
    lines = [
        f"{len(traces)} traces ({per_unit} per held-out unit, all tasks), batches of {BATCH}, "
        f"encoder {settings.precision}, {settings.threads} thread(s), max tokens "
        f"{settings.max_tokens}, fresh LRU per configuration",
        "",
        "| configuration | CPU ms/trace (mean) | wall ms/trace: mean | median | p99 | "
        "texts embedded per trace | word pieces per trace | results decided by lexical / "
        "encoder |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, params in configs.items():
        m = measure(traces, params, settings)
        lines.append(
            f"| {name} | {m['cpu_mean']:.2f} | {m['mean']:.2f} | {m['median']:.2f} | "
            f"{m['p99']:.2f} | "
            f"{m['texts_per_trace']:.2f} | {m['tokens_per_trace']:.1f} | "
            f"{m['share']['lexical']:.0%} / {m['share']['encoder']:.0%} |"
        )
        print(lines[-1], flush=True)
    return lines
