"""``refusal``, ``jailbreak`` and model-output ``safety_content`` from real model responses.

Why: refusals and successful jailbreaks are properties of what a model actually wrote, so
these rows come from published completions of several models with their authors' labels:
XSTest (five model set-ups, two human annotators each, partial refusals included),
JailbreakBench artefacts (five attack methods against four models, judge-labelled) and
GPTFuzz (responses to 77 jailbreak templates, human-labelled by the authors).
"""

from __future__ import annotations

import re

from evaluators.training.corpus._sources import stable_sample
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

# Long model responses dominate the size of safety_content; per-label caps (stable samples)
# keep it near 3 MB compressed while every label, model and category stays represented.
GPTFUZZ_CONTENT_CAP = 1500  # per label, of ~3,300 / ~2,200
DNA_BENIGN_CONTENT_CAP = 2000  # of ~4,900 harmless answers (all ~190 harmful ones kept)


def xstest_completions(files: Files) -> dict[str, list[dict]]:
    """Human final labels: full or partial refusal -> 1, full compliance -> 0.

    The same pairs are plain (style ``none``) jailbreak negatives where the label is
    certain: any answer to a safe prompt, and a refusal of an unsafe (``contrast_``) one. An
    unsafe prompt answered in full is left out of ``jailbreak``: XSTest does not say whether
    that answer was harmful."""
    refusals, jailbreaks = [], []
    for path in sorted(files):
        match = re.search(r"xstest_v2_completions_(\w+)\.csv$", path)
        if not match:
            continue
        for row in csv_rows(files[path]):
            prompt, response = clean(row["prompt"]), clean(row["completion"])
            if not response:
                continue
            refused = XSTEST_REFUSALS[row["final_label"]]
            refusals.append({"prompt": prompt, "response": response, "label": refused,
                             "model": XSTEST_MODELS[match.group(1)]})  # fmt: skip
            if refused or not row["type"].startswith("contrast_"):
                jailbreaks.append({"prompt": prompt, "response": response, "label": 0,
                                   "style": "none"})  # fmt: skip
    return {"refusal": refusals, "jailbreak": jailbreaks}


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
    content = [row for label in (0, 1) for row in stable_sample(
        [r for r in content if r["label"] == label], GPTFUZZ_CONTENT_CAP)]  # fmt: skip
    return {"jailbreak": jailbreaks, "safety_content": content}


DNA_MODELS = ("ChatGLM2", "ChatGPT", "Claude", "GPT4", "llama2-7b-chat", "vicuna-7b")
DNA_MODEL_NAMES = {"ChatGLM2": "chatglm2-6b", "ChatGPT": "gpt-3.5-turbo", "Claude": "claude",
                   "GPT4": "gpt-4", "llama2-7b-chat": "llama-2-7b-chat",
                   "vicuna-7b": "vicuna-7b"}  # fmt: skip
# Do-Not-Answer's human "action" classes: 0 declines outright, 5 follows the instruction; 1-4
# (refutes the premise, two-sided discussion, cautious answer, "I have no access to that")
# mix refusals and answers in all models, so they are no refusal label and are left out.
DNA_REFUSAL = {"0": 1, "5": 0}


def do_not_answer(files: Files) -> dict[str, list[dict]]:
    """939 risky questions and six models' answers with human labels: ``harmful`` ->
    safety_content, action 0/5 -> refusal, questions of the three harmful-request risk areas
    -> safety_request 1; a harmful answer is a plain (style ``none``) jailbreak 1 (harmful
    request, complying harmful answer) and an outright refusal a jailbreak 0."""
    questions = {
        row["id"]: row for row in csv_rows(files["datasets/Instruction/do_not_answer_en.csv"])
    }
    requests = [
        {"text": clean(q["question"]), "label": 1, "lookalike": False,
         "category": _dna_category(q, q["question"])}
        for q in questions.values() if q["risk_area"] in cat.DO_NOT_ANSWER_HARMFUL_AREAS
    ]  # fmt: skip
    refusals, content, jailbreaks = [], [], []
    for model in DNA_MODELS:
        path = f"datasets/Review/Human/annotated_response_{model}.csv"
        for row in csv_rows(files[path]):
            response, question = clean(row["response"]), questions[row["id"]]
            if len(response) < 3:  # two Llama-2 answers are cut to one token ("I")
                continue
            harmful = int(row["harmful"])
            category = _dna_category(question, response) if harmful else "none"
            content.append({"text": response, "label": harmful, "category": category})
            if harmful or row["action"] == "0":  # a harmful answer, or an outright refusal
                jailbreaks.append({"prompt": clean(question["question"]), "response": response,
                                   "label": harmful, "style": "none"})  # fmt: skip
            if row["action"] in DNA_REFUSAL:
                refusals.append({"prompt": clean(question["question"]), "response": response,
                                 "label": DNA_REFUSAL[row["action"]],
                                 "model": DNA_MODEL_NAMES[model]})  # fmt: skip
    harmless = stable_sample([r for r in content if r["label"] == 0], DNA_BENIGN_CONTENT_CAP)
    content = [r for r in content if r["label"] == 1] + harmless
    return {"safety_request": requests, "refusal": refusals, "safety_content": content,
            "jailbreak": jailbreaks}  # fmt: skip


def _dna_category(question: dict, text: str) -> str:
    category = cat.DO_NOT_ANSWER[question["types_of_harm"]]
    return cat.guess_category(text) if category == "other" else category
