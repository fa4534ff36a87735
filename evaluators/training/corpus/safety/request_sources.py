"""``safety_request`` from harmful-behaviour benchmarks, XSTest and ordinary instructions.

Why several: each benchmark was written by a different team with its own harm taxonomy and
phrasing (imperative behaviours, questions, advice seeking), so holding one out tests
generalisation rather than memorised templates. XSTest's safe prompts are the look-alikes
("how do I kill a Python process") that a request model must not flag; self-instruct's
instructions are ordinary user requests.
"""

from __future__ import annotations

import json

from evaluators.training.corpus._sources import stable_sample
from evaluators.training.corpus.safety import categories as cat
from evaluators.training.corpus.safety._read import clean, csv_rows, jsonl_rows

Files = dict[str, bytes]


def _request(text: str, label: int, category: str, lookalike: bool = False) -> dict:
    return {"text": clean(text), "label": label, "category": category, "lookalike": lookalike}


def _safe_content(requests: list[dict]) -> list[dict]:
    """The look-alike prompts again as ``safety_content`` 0: their words are not harmful to
    show either. The content head also reads a request's own words (abuse, hate, sexual
    content typed by the user: ``safety.verdict``'s ``prc``) and, without these, took "how
    do I kill a Python process" for violence (p 0.47)."""
    return [{"text": r["text"], "label": 0, "category": "none"} for r in requests if r["lookalike"]]


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
    return {"safety_request": rows, "safety_content": _safe_content(rows)}


COCONOT_LOOKALIKE_CATEGORY = "Requests with safety concerns"


def coconot_contrast(files: Files) -> dict[str, list[dict]]:
    """CoCoNot's contrast set: prompts its authors wrote to look like requests a model should
    decline but that it should answer ("How can I kill time during a long flight?"). Those
    of the category "Requests with safety concerns" (dangerous topics, privacy, offensive
    language, false information) -> 0 lookalike; the incomplete and unsupported ones (false
    premises, modality limits) are no safety look-alikes and are left out."""
    rows = [
        _request(row["prompt"], 0, "none", lookalike=True)
        for path in ("data/coconot_contrast_eval.jsonl", "data/coconot_pref.jsonl")
        for row in jsonl_rows(files[path])
        if row["category"] == COCONOT_LOOKALIKE_CATEGORY
    ]
    return {"safety_request": rows, "safety_content": _safe_content(rows)}


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
    user-oriented instructions) are benign ``safety_content``: everyday text must score low.
    The authors' own outputs are the answers they wrote to their tasks, so they are
    ``refusal`` 0 too (many are one line: a label, a number, a short how-to); the
    text-davinci-003 answers are not, as nobody labelled whether the model declined."""
    requests, answers, refusals = [], [], []
    for path in ("data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl"):
        for task in jsonl_rows(files[path]):
            requests += [_request(text, 0, "none") for text in _instruction_text(task)]
            for instance in task.get("instances", []):
                answers.append(clean(instance.get("output")))
                prompt = "\n\n".join(t for t in (clean(task["instruction"]),
                                                  clean(instance.get("input"))) if t)  # fmt: skip
                refusals.append({"prompt": prompt, "response": answers[-1], "label": 0,
                                 "model": "self-instruct authors"})  # fmt: skip
    predictions = "human_eval/predictions/text-davinci-003_predictions.jsonl"
    answers += [clean(row.get("response")) for row in jsonl_rows(files[predictions])]
    content = [
        {"text": text, "label": 0, "category": "none"} for text in answers if len(text) >= 20
    ]
    refusals = [r for r in refusals if r["response"]]
    return {"safety_request": requests, "safety_content": content, "refusal": refusals}


# HarmfulQA's ~1,960 templated "How can I use <field> to <harm>?" questions would outnumber
# every other harmful-request source together; a stable sample keeps their topics.
HARMFULQA_CAP = 800


def red_instruct(files: Files) -> dict[str, list[dict]]:
    """Harmful questions of the red-instruct release, all -> 1: CatQA (English; 11
    categories x 5 sub-categories, the two policy-only categories left out), DangerousQA and
    HarmfulQA (questions across academic topics written to elicit harm; category by the
    keyword rule, ``other`` when it finds none)."""
    rows = []
    catqa = json.loads(files["harmful_questions/catqa_english.json"])
    for area, subareas in sorted(catqa.items()):
        if area not in cat.CATQA:
            continue
        for questions in subareas.values():
            for question in questions:
                category = cat.CATQA[area] or cat.guess_category(question)
                rows.append(_request(question, 1, category))
    for question in json.loads(files["harmful_questions/dangerousqa.json"]):
        rows.append(_request(question, 1, cat.guess_category(question)))
    harmfulqa = json.loads(files["harmful_questions/harmfulqa.json"])
    topical = [_request(q, 1, cat.guess_category(q))
               for topics in harmfulqa.values() for questions in topics.values()
               for q in questions]  # fmt: skip
    return {"safety_request": rows + stable_sample(topical, HARMFULQA_CAP)}


def advbench(files: Files) -> dict[str, list[dict]]:
    """AdvBench harmful behaviours (as copied into red-instruct), all -> 1, keyword
    category."""
    behaviours = json.loads(files["harmful_questions/adversarialqa.json"])
    return {"safety_request": [_request(b, 1, cat.guess_category(b)) for b in behaviours]}
