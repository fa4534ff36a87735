"""``safety_request`` from harmful-behaviour benchmarks, XSTest and ordinary instructions.

Why several: each benchmark was written by a different team with its own harm taxonomy and
phrasing (imperative behaviours, questions, advice seeking), so holding one out tests
generalisation rather than memorised templates. XSTest's safe prompts are the look-alikes
("how do I kill a Python process") that a request model must not flag; self-instruct's
instructions are ordinary user requests.
"""

from __future__ import annotations

from evaluators.training.corpus.safety import categories as cat
from evaluators.training.corpus.safety._read import clean, csv_rows, jsonl_rows

Files = dict[str, bytes]


def _request(text: str, label: int, category: str, lookalike: bool = False) -> dict:
    return {"text": clean(text), "label": label, "category": category, "lookalike": lookalike}


def xstest_prompts(files: Files) -> dict[str, list[dict]]:
    """XSTest v2: safe prompts -> 0 (lookalike), unsafe contrast prompts -> 1; category of the
    unsafe ones from the prompt type (discrimination, privacy) or the keyword guess."""
    rows = []
    for row in csv_rows(files["xstest_prompts.csv"]):
        if row["label"] == "safe":
            rows.append(_request(row["prompt"], 0, "none", lookalike=True))
            continue
        kind = row["type"]
        category = {"contrast_discr": "hate", "contrast_privacy": "other"}.get(kind)
        rows.append(_request(row["prompt"], 1, category or cat.guess_category(row["prompt"])))
    return {"safety_request": rows}


def simple_safety_tests(files: Files) -> dict[str, list[dict]]:
    """SimpleSafetyTests: 100 clearly harmful prompts over five harm areas."""
    rows = [
        _request(row["prompts_final"], 1, cat.SIMPLE_SAFETY_TESTS[row["harm_area"]])
        for row in csv_rows(files["SimpleSafetyTests - test cases.csv"])
    ]
    return {"safety_request": rows}


def harmbench_behaviors(files: Files) -> dict[str, list[dict]]:
    """HarmBench text behaviours (standard and contextual; the behaviour sentence alone).
    Copyright behaviours ("generate the lyrics of ...") are left out: not a content harm."""
    rows = []
    for row in csv_rows(files["data/behavior_datasets/harmbench_behaviors_text_all.csv"]):
        semantic = row["SemanticCategory"]
        if semantic == "copyright":
            continue
        category = cat.HARMBENCH[semantic]
        if category == "other":
            category = cat.guess_category(row["Behavior"])
        rows.append(_request(row["Behavior"], 1, category))
    return {"safety_request": rows}


def strongreject(files: Files) -> dict[str, list[dict]]:
    """StrongREJECT forbidden prompts with their six categories (incl. sexual content)."""
    rows = [
        _request(row["forbidden_prompt"], 1, cat.STRONGREJECT[row["category"]])
        for row in csv_rows(files["data/behavior_datasets/strongreject_dataset.csv"])
    ]
    return {"safety_request": rows}


def _instruction_text(task: dict) -> list[str]:
    """The instruction alone, and instruction + each instance input as a user would send it."""
    instruction = clean(task["instruction"])
    texts = [instruction]
    for instance in task.get("instances", []):
        if clean(instance.get("input")):
            texts.append(f"{instruction}\n\n{clean(instance['input'])}")
    return texts


def self_instruct(files: Files) -> dict[str, list[dict]]:
    """Self-instruct seed tasks and user-oriented instructions: ordinary requests -> 0.

    The answers (the authors' instance outputs and text-davinci-003's answers to the
    user-oriented instructions) are benign ``safety_content``: everyday text must score low."""
    requests, answers = [], []
    for path in ("data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl"):
        for task in jsonl_rows(files[path]):
            requests += [_request(text, 0, "none") for text in _instruction_text(task)]
            answers += [clean(instance.get("output")) for instance in task.get("instances", [])]
    predictions = "human_eval/predictions/text-davinci-003_predictions.jsonl"
    answers += [clean(row.get("response")) for row in jsonl_rows(files[predictions])]
    content = [
        {"text": text, "label": 0, "category": "none"} for text in answers if len(text) >= 20
    ]
    return {"safety_request": requests, "safety_content": content}
