"""Safety datasets: requests, toxicity, refusals and jailbreaks (the XSTest rule in the package
docstring).
"""

from __future__ import annotations

import hashlib
import json
import re

from evaluators.builtin._quality_lexicon import cues
from evaluators.training.datasets.grounding import correctness
from evaluators.training.datasets.sources import csv_rows, datasets_dir, jsonl_rows, split_of


def xstest_family(prompt_type: str) -> str:
    """XSTest prompt type -> family: the safe type(s) with their ``contrast_`` unsafe twins."""
    family = prompt_type.removeprefix("contrast_")
    if family.startswith("privacy"):
        return "privacy"
    return "discr" if family.endswith("_discr") else family


def _xstest_test_families() -> frozenset[str]:
    path = datasets_dir() / "3_safety/xstest/xstest_prompts.csv"
    families = sorted({xstest_family(r["type"]) for r in csv_rows(path)})
    ranked = sorted(families, key=lambda f: hashlib.md5(f"xstest:{f}".encode()).hexdigest())
    return frozenset(ranked[: len(ranked) // 2])


def xstest_split(prompt_type: str) -> str:
    """'test' for the lower-md5 half of the XSTest families, else 'train'."""
    return "test" if xstest_family(prompt_type) in _xstest_test_families() else "train"


_HOW_FORMS = ("How do I {}?", "What's the best way to {}?", "What steps should I take to {}?",
              "Where can I learn to {}?", "How would someone {}?")  # fmt: skip


_ASK_FORMS = ("Can you {}?", "Could you {}?", "I need you to {}.", "Please {}.")


def _question_form(goal: str, k: int = 0) -> str:
    """'Write a tutorial on how to make a bomb' -> 'How do I make a bomb?' (augmentation).

    ``k`` rotates through a few phrasings, so no single template becomes a harm marker.
    """
    match = re.search(r"\bhow to (.+)$", goal, flags=re.IGNORECASE)
    if match:
        return _HOW_FORMS[k % len(_HOW_FORMS)].format(match.group(1).rstrip("."))
    return _ASK_FORMS[k % len(_ASK_FORMS)].format(f"{goal[0].lower()}{goal[1:].rstrip('.')}")


def requests(split: str) -> list[dict]:
    """Request harmfulness; label 1 = harmful. Datasets and XSTest families split (see top)."""
    root = datasets_dir() / "3_safety"
    rows: list[dict] = []
    for r in csv_rows(root / "xstest/xstest_prompts.csv"):
        if xstest_split(r["type"]) != split:
            continue
        safe = r["label"] == "safe"
        group = f"xstest_{xstest_family(r['type'])}"  # CV groups: a family and its twins
        if split == "test":
            group = "xstest_safe" if safe else "xstest_unsafe"
        # weight 3: the few minimal pairs must count against ~2000 rows of plain style
        rows.append({"group": group, "text": r["prompt"], "label": int(not safe), "weight": 3})
    if split == "train":
        for i, r in enumerate(csv_rows(root / "advbench/harmful_behaviors.csv")):
            # CV groups: by harm topic (the goal's first cue), a goal and its question together,
            # so cross-validation sees unseen topics as the test sets do
            topic = [c for c in cues(r["goal"], "request") if not c.startswith("benign")]
            group = f"advbench_{topic[0] if topic else 'other'}"
            rows.append({"group": group, "text": r["goal"], "label": 1})
            rows.append({"group": group, "text": _question_form(r["goal"], i), "label": 1})
        for r in jsonl_rows(root / "benign_instructions/seed_tasks.jsonl"):
            rows.append({"group": "self_instruct", "text": r["instruction"], "label": 0})
        general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
        for i, r in enumerate(jsonl_rows(general)):
            if i % 4 == 0:  # a quarter is plenty and keeps the classes near balance
                rows.append({"group": "halueval_general", "text": r["user_query"], "label": 0})
        return rows
    goals = set()
    for path in sorted((root / "jailbreakbench_artifacts").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            goals.add(r["goal"])
    rows += [{"group": "jbb", "text": g, "label": 1} for g in sorted(goals)]
    for r in jsonl_rows(root / "benign_instructions/user_oriented_instructions.jsonl"):
        rows.append({"group": "user_oriented", "text": r["instruction"], "label": 0})
    # some JBB goals are AdvBench goals and some texts recur across sources: test keeps none
    seen = {" ".join(r["text"].lower().split()) for r in requests("train")}
    return [r for r in rows if " ".join(r["text"].lower().split()) not in seen]


def toxicity(split: str) -> list[dict]:
    """ToxiGen (split by target group) + the Jigsaw sample (test only); 1 = toxic.

    Train adds other sources (AdvBench harmful strings, ordinary answers); their CV groups
    are five row chunks each, so only ToxiGen target groups are held out whole in CV.
    """
    root = datasets_dir() / "3_safety"
    rows = [
        {"group": r["target_group"], "text": r["text"], "label": int(r["toxic"])}
        for r in csv_rows(root / "toxigen_demonstrations/toxigen_demonstrations_combined.csv")
        if split_of("toxigen:" + r["target_group"]) == split
    ]
    if split == "test":
        rows += [
            {"group": "jigsaw", "text": r["comment_text"], "label": int(r["toxic"])}
            for r in csv_rows(root / "jigsaw_sample/test_examples.csv")
        ]
    else:
        first_other = len(rows)
        rows += [
            {"group": "advbench_strings", "text": r["target"], "label": 1}
            for r in csv_rows(root / "advbench/harmful_strings.csv")[::4]
        ]
        general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
        rows += [  # ordinary assistant answers: neutral text that is not about a group
            {"group": "halueval_general", "text": r["chatgpt_response"][:400], "label": 0}
            for i, r in enumerate(jsonl_rows(general))
            if i % 12 == 0
        ]
        rows += [  # short factual answers, so brevity alone does not read as toxic
            {"group": "squad_answers", "text": r["output"], "label": 0}
            for r in correctness("train")[::10]
        ]
        rows += [
            {"group": "self_instruct", "text": inst["output"][:400], "label": 0}
            for r in jsonl_rows(root / "benign_instructions/seed_tasks.jsonl")
            for inst in r["instances"][:1]
            if inst["output"].strip()
        ]
        rows += [  # assistant refusals and answers about sensitive topics are not toxic
            {"group": "xstest_completions", "text": r["text"][:400], "label": 0}
            for r in refusals("train")
            if r["group"] != "advbench"
        ]
        toxigen = {r["group"] for r in rows[:first_other]}
        for i, r in enumerate(rows):
            if r["group"] not in toxigen:
                r["group"] += str(i % 5)
    return rows


def refusals(split: str) -> list[dict]:
    """XSTest GPT-4 completions (split by prompt family); 1 = refused (partial excluded)."""
    rows = []
    root = datasets_dir() / "3_safety"
    for r in csv_rows(root / "xstest/xstest_v2_completions_gpt4.csv"):
        if r["final_label"].startswith("3") or xstest_split(r["type"]) != split:
            continue
        rows.append({"group": xstest_family(r["type"]), "prompt": r["prompt"],
                     "text": r["completion"],
                     "label": int(r["final_label"].startswith("2"))})  # fmt: skip
    if split == "train":  # compliant answers from other sources, so "compliance" is not one style
        for r in csv_rows(root / "advbench/harmful_behaviors.csv")[::3]:
            rows.append({"group": "advbench", "prompt": r["goal"], "text": r["target"], "label": 0})
    return rows


def benign_answers(window: int = 300) -> list[str]:
    """Openings of ordinary answers (train sources only), to calibrate the answer-side harm
    score: HaluEval general responses, self-instruct outputs, and XSTest GPT-4 completions
    that fully comply with the *safe* prompts of the train families."""
    root = datasets_dir() / "3_safety"
    general = datasets_dir() / "2_correctness/halueval/general_data.jsonl"
    texts = [r["chatgpt_response"] for r in jsonl_rows(general)]
    texts += [
        inst["output"]
        for r in jsonl_rows(root / "benign_instructions/seed_tasks.jsonl")
        for inst in r["instances"][:1]
    ]
    texts += [
        r["completion"]
        for r in csv_rows(root / "xstest/xstest_v2_completions_gpt4.csv")
        if xstest_split(r["type"]) == "train"
        and not r["type"].startswith("contrast_")
        and r["final_label"].startswith("1")
    ]
    return [t[:window] for t in texts if t.strip()]


def jailbreaks() -> list[dict]:
    """JailbreakBench artefacts (test only): prompt + response, 1 = jailbroken (judge label).

    Behaviours whose goal is also a request-safety training text (AdvBench) are left out."""
    rows = []
    seen = {" ".join(r["text"].lower().split()) for r in requests("train")}
    for path in sorted((datasets_dir() / "3_safety/jailbreakbench_artifacts").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8"))["jailbreaks"]:
            if " ".join(r["goal"].lower().split()) in seen:
                continue
            if r.get("prompt") and r.get("response"):
                label = int(bool(r["jailbroken"]))
                rows.append({"group": path.stem.split("__")[0], "prompt": r["prompt"],
                             "text": r["response"], "label": label})  # fmt: skip
    return rows
