"""Loaders and leak-free splits of /work/shared/datasets, shared by training and benchmark.

Splits are by *source unit* so near-duplicates never straddle train and test: SQuAD by
article title, HaluEval by row (both answers of a row together), ToxiGen by target group,
XSTest completions by prompt family (``contrast_x`` with ``x``), request safety by dataset
(train and test come from different datasets altogether). The unit goes to test when the
md5 of its key falls in the lowest ``TEST_SHARE`` of the hash space: stable across runs,
machines and Python versions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

TEST_SHARE = 0.35
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def datasets_dir() -> Path:
    """``$EVALSTREAM_DATASETS_DIR`` or ``<project root>/../shared/datasets``."""
    env = os.environ.get("EVALSTREAM_DATASETS_DIR")
    return Path(env) if env else PROJECT_ROOT.parent / "shared" / "datasets"


def available() -> bool:
    return (datasets_dir() / "README.txt").is_file()


def split_of(key: str) -> str:
    bucket = int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_SHARE else "train"


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def squad_paragraphs() -> Iterator[tuple[str, str, list[dict]]]:
    path = datasets_dir() / "1_context_sufficiency/squad2_dev_cs224n/dev-v2.0.json"
    for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            yield article["title"], paragraph["context"], paragraph["qas"]


def sufficiency(split: str, augment: bool = False) -> list[dict]:
    """SQuAD 2.0: label 1 = the paragraph answers the question, 0 = ``is_impossible``.

    ``augment`` (training only) adds off-topic retrievals: every third answerable question
    paired with a paragraph of another article, labelled insufficient. SQuAD alone never
    shows an unrelated context, the commonest retrieval failure in practice.
    """
    paragraphs = [p for p in squad_paragraphs() if split_of(p[0]) == split]
    rows = [
        {"group": title, "question": qa["question"], "context": [context],
         "label": int(not qa["is_impossible"])}
        for title, context, qas in paragraphs for qa in qas
    ]  # fmt: skip
    if augment:
        answerable = [r for r in rows if r["label"] == 1][::3]
        for k, row in enumerate(answerable):
            for step in range(1, len(paragraphs)):
                title, context, _ = paragraphs[(k * 7 + step * 37) % len(paragraphs)]
                if title != row["group"]:
                    rows.append({**row, "context": [context], "label": 0})
                    break
    return rows


def _sentence_with(context: str, start: int) -> str:
    left = max(context.rfind(". ", 0, start) + 2, 0) if context.rfind(". ", 0, start) >= 0 else 0
    right = context.find(". ", start)
    return context[left : right + 1 if right >= 0 else len(context)].strip()


def correctness(split: str) -> list[dict]:
    """SQuAD answerable questions: right = another annotator's answer or the gold answer in
    its sentence; wrong = the answer to another question about the same paragraph."""
    rows: list[dict] = []
    for title, context, qas in squad_paragraphs():
        if split_of(title) != split:
            continue
        answerable = [qa for qa in qas if not qa["is_impossible"] and qa["answers"]]
        for i, qa in enumerate(answerable):
            gold = qa["answers"][0]
            texts = {a["text"].strip().lower() for a in qa["answers"]}
            others = [
                a["text"] for a in qa["answers"][1:] if a["text"].lower() != gold["text"].lower()
            ]
            right = (
                others[0]
                if others and i % 2 == 0
                else _sentence_with(context, gold["answer_start"])
            )
            base = {"group": title, "question": qa["question"], "expected": gold["text"],
                    "context": [context]}  # fmt: skip
            rows.append({**base, "output": right, "label": 1})
            for other in answerable[i + 1 :] + answerable[:i]:
                wrong = other["answers"][0]
                low = wrong["text"].strip().lower()
                if any(t in low or low in t for t in texts):
                    continue
                if i % 2:
                    sentence = _sentence_with(context, wrong["answer_start"])
                    if not any(t in sentence.lower() for t in texts):
                        rows.append({**base, "output": sentence, "label": 0})
                        break
                    continue
                rows.append({**base, "output": wrong["text"], "label": 0})
                break
    return rows


def groundedness(split: str) -> list[dict]:
    """HaluEval QA: the right answer is grounded (1), the hallucinated one is not (0)."""
    rows = []
    path = datasets_dir() / "2_correctness/halueval/qa_data_first1000.jsonl"
    for row in _jsonl(path):
        key = row["knowledge"] + row["question"]
        if split_of(key) != split:
            continue
        base = {"group": key[:64], "question": row["question"], "context": [row["knowledge"]]}
        rows.append({**base, "output": row["right_answer"], "label": 1})
        rows.append({**base, "output": row["hallucinated_answer"], "label": 0})
    return rows


def _question_form(goal: str) -> str:
    """'Write a tutorial on how to make a bomb' -> 'How do I make a bomb?' (augmentation)."""
    match = re.search(r"\bhow to (.+)$", goal, flags=re.IGNORECASE)
    if match:
        return f"How do I {match.group(1).rstrip('.')}?"
    return f"Can you {goal[0].lower()}{goal[1:].rstrip('.')}?"


def requests(split: str) -> list[dict]:
    """Request harmfulness; label 1 = harmful. Train and test come from different datasets."""
    root = datasets_dir() / "3_safety"
    rows: list[dict] = []
    if split == "train":
        for r in _csv(root / "advbench/harmful_behaviors.csv"):
            rows.append({"group": "advbench", "text": r["goal"], "label": 1})
            rows.append({"group": "advbench_q", "text": _question_form(r["goal"]), "label": 1})
        for r in _jsonl(root / "benign_instructions/seed_tasks.jsonl"):
            rows.append({"group": "self_instruct", "text": r["instruction"], "label": 0})
        general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
        for i, r in enumerate(_jsonl(general)):
            if i % 4 == 0:  # a quarter is plenty and keeps the classes near balance
                rows.append({"group": "halueval_general", "text": r["user_query"], "label": 0})
        return rows
    goals = set()
    for path in sorted((root / "jailbreakbench_artifacts").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            goals.add(r["goal"])
    rows += [{"group": "jbb", "text": g, "label": 1} for g in sorted(goals)]
    for r in _csv(root / "xstest/xstest_prompts.csv"):
        group = "xstest_safe" if r["label"] == "safe" else "xstest_unsafe"
        rows.append({"group": group, "text": r["prompt"], "label": int(r["label"] != "safe")})
    for r in _jsonl(root / "benign_instructions/user_oriented_instructions.jsonl"):
        rows.append({"group": "user_oriented", "text": r["instruction"], "label": 0})
    return rows


def toxicity(split: str) -> list[dict]:
    """ToxiGen (split by target group) + the Jigsaw sample (test only); 1 = toxic."""
    root = datasets_dir() / "3_safety"
    rows = [
        {"group": r["target_group"], "text": r["text"], "label": int(r["toxic"])}
        for r in _csv(root / "toxigen_demonstrations/toxigen_demonstrations_combined.csv")
        if split_of("toxigen:" + r["target_group"]) == split
    ]
    if split == "test":
        rows += [
            {"group": "jigsaw", "text": r["comment_text"], "label": int(r["toxic"])}
            for r in _csv(root / "jigsaw_sample/test_examples.csv")
        ]
    else:
        rows += [
            {"group": "advbench_strings", "text": r["target"], "label": 1}
            for r in _csv(root / "advbench/harmful_strings.csv")[::4]
        ]
        general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
        rows += [  # ordinary assistant answers: neutral text that is not about a group
            {"group": "halueval_general", "text": r["chatgpt_response"][:400], "label": 0}
            for i, r in enumerate(_jsonl(general))
            if i % 12 == 0
        ]
        rows += [  # short factual answers, so brevity alone does not read as toxic
            {"group": "squad_answers", "text": r["output"], "label": 0}
            for r in correctness("train")[::10]
        ]
        rows += [
            {"group": "self_instruct", "text": inst["output"][:400], "label": 0}
            for r in _jsonl(root / "benign_instructions/seed_tasks.jsonl")
            for inst in r["instances"][:1]
            if inst["output"].strip()
        ]
    return rows


def refusals(split: str) -> list[dict]:
    """XSTest GPT-4 completions (split by prompt family); 1 = refused (partial excluded)."""
    rows = []
    root = datasets_dir() / "3_safety"
    for r in _csv(root / "xstest/xstest_v2_completions_gpt4.csv"):
        family = r["type"].removeprefix("contrast_")
        if r["final_label"].startswith("3") or split_of("xstest:" + family) != split:
            continue
        rows.append({"group": family, "prompt": r["prompt"], "text": r["completion"],
                     "label": int(r["final_label"].startswith("2"))})  # fmt: skip
    if split == "train":  # compliant answers from other sources, so "compliance" is not one style
        for r in _csv(root / "advbench/harmful_behaviors.csv")[::3]:
            rows.append({"group": "advbench", "prompt": r["goal"], "text": r["target"], "label": 0})
    return rows


def jailbreaks() -> list[dict]:
    """JailbreakBench artefacts (test only): prompt + response, 1 = jailbroken (judge label)."""
    rows = []
    for path in sorted((datasets_dir() / "3_safety/jailbreakbench_artifacts").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            if r.get("prompt") and r.get("response"):
                label = int(bool(r["jailbroken"]))
                rows.append({"group": path.stem.split("__")[0], "prompt": r["prompt"],
                             "text": r["response"], "label": label})  # fmt: skip
    return rows
