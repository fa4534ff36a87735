"""The cross-encoder's pairs: training and validation rows from sources that are not held
out, and the held-out evaluation rows, as JSON lines ``{task, split, source, a, b, label}``
(``a`` = claim or question, ``b`` = evidence or context, label 1 = supported / answerable).

Held out whole (never trained on, no threshold taken from them): the grounding sources
``HELD_OUT_GROUNDING`` and the SQuAD 2.0 dev half of the shared datasets (``sufficiency
("test")``). The SQuAD rows trained on are the other half of the same dev set, split by article
title (``datasets.sources.split_of``), exactly what today's sufficiency heads train on.

    PYTHONPATH=. .venv/bin/python -m evaluators.training.cross_encoder.pairs OUT.jsonl.gz
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from evaluators.training.corpus._sources import sha256_hex, stable_sample
from evaluators.training.datasets import grounding as squad
from evaluators.training.encoder_rows import corpus_rows

HELD_OUT_GROUNDING = ("factcheck_gpt", "summedits", "check_covid")
EVAL_ROWS = 600  # the same stable sample benchmarks/_quality_tiers.py scores per source
TRAIN_CAP = {"grounding": 2500, "answerable": 2500}  # rows per training source
NOT_TRAINED = {"qnli_squad_heldout"}  # SQuAD-derived QNLI pairs: kept out to be safe
VALIDATION_SHARE = 0.06


def _validation(key: str) -> bool:
    return int(sha256_hex(key.encode("utf-8"))[:8], 16) / 0xFFFFFFFF < VALIDATION_SHARE


def _pair(task: str, split: str, source: str, a: str, b: str, label: int) -> dict:
    return {"task": task, "split": split, "source": source, "a": a, "b": b, "label": int(label)}


def build() -> list[dict]:
    out: list[dict] = []
    grounding = corpus_rows("grounding")
    for source in sorted({r["source"] for r in grounding}):
        rows = [r for r in grounding if r["source"] == source]
        if source in HELD_OUT_GROUNDING:
            for r in stable_sample(rows, EVAL_ROWS, "hypothesis"):
                out.append(_pair("grounding", "eval", source, r["hypothesis"], r["premise"],
                                 r["label"]))  # fmt: skip
            continue
        for r in stable_sample(rows, TRAIN_CAP["grounding"], "hypothesis"):
            split = "val" if _validation(r["hypothesis"]) else "train"
            out.append(_pair("grounding", split, source, r["hypothesis"], r["premise"], r["label"]))
    answerable = [r for r in corpus_rows("answerable") if r["source"] not in NOT_TRAINED]
    for source in sorted({r["source"] for r in answerable}):
        rows = [r for r in answerable if r["source"] == source]
        for r in stable_sample(rows, TRAIN_CAP["answerable"], "question"):
            split = "val" if _validation(r["question"]) else "train"
            out.append(_pair("sufficiency", split, source, r["question"], r["context"], r["label"]))
    for r in squad.sufficiency("train", augment=True):
        split = "val" if _validation(r["question"]) else "train"
        out.append(_pair("sufficiency", split, "squad2_train_half", r["question"],
                         " ".join(r["context"]), r["label"]))  # fmt: skip
    for r in squad.sufficiency("test"):
        out.append(_pair("sufficiency", "eval", "squad2_dev_half", r["question"],
                         " ".join(r["context"]), r["label"]))  # fmt: skip
    return out


def main(argv: list[str]) -> int:
    rows = build()
    with gzip.open(Path(argv[0]), "wt", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    counts: dict[tuple, list[int]] = {}
    for r in rows:
        counts.setdefault((r["task"], r["split"], r["source"]), [0, 0])[r["label"]] += 1
    for key, (n0, n1) in sorted(counts.items()):
        print(*key, n0, n1, sep="\t")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
