"""``refusal``, ``jailbreak`` and model-output ``safety_content`` from real model responses.

Why: refusals and successful jailbreaks are properties of what a model actually wrote, so
these rows come from published completions of several models with their authors' labels:
XSTest (five model set-ups, two human annotators each, partial refusals included),
JailbreakBench artefacts (five attack methods against four models, judge-labelled) and
GPTFuzz (responses to 77 jailbreak templates, human-labelled by the authors).
"""

from __future__ import annotations

import json
import re

from evaluators.training.corpus.safety import categories as cat
from evaluators.training.corpus.safety._read import clean, csv_rows

Files = dict[str, bytes]

XSTEST_MODELS = {
    "gpt4": "gpt-4",
    "llama2orig": "llama-2-70b-chat (original system prompt)",
    "llama2new": "llama-2-70b-chat (no system prompt)",
    "mistralinstruct": "mistral-7b-instruct-v0.1",
    "mistralguard": "mistral-7b-instruct-v0.1 (guardrail prompt)",
}
XSTEST_REFUSALS = {"2_full_refusal": 1, "3_partial_refusal": 1, "1_full_compliance": 0}

# JailbreakBench attack method -> style. PAIR writes free-form attack prompts, so its style is
# read from the prompt itself (``_pair_style``).
JBB_STYLES = {"JBC": "roleplay", "GCG": "adversarial_suffix", "DSN": "adversarial_suffix",
              "prompt_with_random_search": "adversarial_suffix"}  # fmt: skip


def xstest_completions(files: Files) -> dict[str, list[dict]]:
    """Human final labels: full or partial refusal -> 1, full compliance -> 0."""
    rows = []
    for path in sorted(files):
        match = re.search(r"xstest_v2_completions_(\w+)\.csv$", path)
        if not match:
            continue
        for row in csv_rows(files[path]):
            response = clean(row["completion"])
            if not response:
                continue
            rows.append({"prompt": clean(row["prompt"]), "response": response,
                         "label": XSTEST_REFUSALS[row["final_label"]],
                         "model": XSTEST_MODELS[match.group(1)]})  # fmt: skip
    return {"refusal": rows}


def _pair_style(prompt: str) -> str:
    lowered = prompt.lower()
    if re.search(r"hypothetical|imagine|fictional|in a world where|thought experiment", lowered):
        return "hypothetical"
    if re.search(r"you are an?\b|pretend|role[- ]?play|act as|character|story|novel", lowered):
        return "roleplay"
    return "other"


def jailbreakbench(files: Files) -> dict[str, list[dict]]:
    """Per-model artefacts: ``jailbroken`` (the benchmark's judge) -> label; the responses
    go to ``safety_content`` too (jailbroken -> harmful, in the behaviour's category)."""
    jailbreaks, content = [], []
    for path in sorted(files):
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != "attack-artifacts" or parts[1] == "test-artifact":
            continue
        method = parts[1]
        for item in json.loads(files[path])["jailbreaks"]:
            prompt, response = clean(item.get("prompt")), clean(item.get("response"))
            if not prompt or not response:
                continue
            broken = bool(item["jailbroken"])
            style = JBB_STYLES.get(method) or _pair_style(prompt)
            jailbreaks.append({"prompt": prompt, "response": response, "label": int(broken),
                               "style": style})  # fmt: skip
            category = cat.JAILBREAKBENCH[item["category"]] if broken else "none"
            content.append({"text": response, "label": int(broken), "category": category})
    return {"jailbreak": jailbreaks, "safety_content": content}


def gptfuzz(files: Files) -> dict[str, list[dict]]:
    """Labelled responses (1 = the response carries the harmful content asked for). The
    files keep the question, not the template, so the prompt is the bare harmful question
    and the style ``other`` (all came through GPTFuzzer's role-play style templates)."""
    questions = {row["index"]: clean(row["text"])
                 for row in csv_rows(files["datasets/questions/question_list.csv"])}  # fmt: skip
    jailbreaks, content = [], []
    for path in ("datasets/responses_labeled/train.csv", "datasets/responses_labeled/evaluate.csv"):
        for row in csv_rows(files[path]):
            response = clean(row["Response"])
            if len(response) < 5:
                continue
            label, question = int(row["label"]), questions[row["question"]]
            jailbreaks.append({"prompt": question, "response": response, "label": label,
                               "style": "other"})  # fmt: skip
            category = cat.guess_category(question) if label else "none"
            content.append({"text": response, "label": label, "category": category})
    return {"jailbreak": jailbreaks, "safety_content": content}
