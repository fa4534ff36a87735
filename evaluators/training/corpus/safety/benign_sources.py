"""Ordinary user requests (assistant commands, banking questions, search queries): negatives.

Why: the outside moderation benchmark is ~70% ordinary text, and the safety models must
score everyday requests low whatever their words ("how do I cancel my card", "kill the
alarm"). These sets are real or crowd-written user utterances with no harmful intent by
construction (intent-classification and open-domain QA data); a stable sample of each feeds
``safety_request`` (label 0) and a disjoint one ``safety_content`` (label 0, none).
"""

from __future__ import annotations

import json

from evaluators.training.corpus._sources import stable_sample
from evaluators.training.corpus.safety._read import clean, csv_rows, jsonl_rows

Files = dict[str, bytes]


def _split(texts: list[str], n_request: int, n_content: int) -> dict[str, list[dict]]:
    """The first ``n_request`` texts of the stable order as requests, the next as content."""
    unique = sorted({clean(t) for t in texts if len(clean(t)) >= 3})
    ordered = stable_sample([{"text": t} for t in unique], n_request + n_content)
    requests = [{"text": r["text"], "label": 0, "category": "none", "lookalike": False}
                for r in ordered[:n_request]]  # fmt: skip
    content = [{"text": r["text"], "label": 0, "category": "none"} for r in ordered[n_request:]]
    return {"safety_request": requests, "safety_content": content}


def clinc_oos(files: Files) -> dict[str, list[dict]]:
    """CLINC150: 23,700 crowd-written assistant queries over 150 intents plus out-of-scope."""
    data = json.loads(files["data/data_full.json"])
    texts = [text for split in sorted(data) for text, _intent in data[split]]
    return _split(texts, 3000, 2000)


def banking77(files: Files) -> dict[str, list[dict]]:
    """BANKING77: 13,083 customer-service questions to a bank."""
    texts = [row["text"] for path in ("banking_data/train.csv", "banking_data/test.csv")
             for row in csv_rows(files[path])]  # fmt: skip
    return _split(texts, 2000, 1500)


def nq_open(files: Files) -> dict[str, list[dict]]:
    """NQ-open dev: 3,610 real, anonymised Google search questions (all as requests)."""
    texts = [row["question"] for row in jsonl_rows(files["nq_open/NQ-open.dev.jsonl"])]
    return _split(texts, 4000, 0)


FASTCHAT_QUESTIONS = (
    "fastchat/llm_judge/data/mt_bench/question.jsonl",
    "fastchat/llm_judge/data/vicuna_bench/question.jsonl",
)
FASTCHAT_ANSWERS = (
    "fastchat/llm_judge/data/mt_bench/reference_answer/gpt-4.jsonl",
    "fastchat/llm_judge/data/vicuna_bench/reference_answer/gpt-4.jsonl",
)


def chatbot_benchmarks(files: Files) -> dict[str, list[dict]]:
    """MT-bench and Vicuna-bench: benign chat requests written to test assistants (writing,
    role-play, reasoning, math, coding, extraction, STEM, humanities; every turn of a
    multi-turn question), and GPT-4's reference answers as benign model output."""
    requests = [
        {"text": clean(turn), "label": 0, "category": "none", "lookalike": False}
        for path in FASTCHAT_QUESTIONS for row in jsonl_rows(files[path]) for turn in row["turns"]
    ]  # fmt: skip
    content = [
        {"text": clean(turn), "label": 0, "category": "none"}
        for path in FASTCHAT_ANSWERS for row in jsonl_rows(files[path])
        for choice in row["choices"] for turn in choice["turns"] if len(clean(turn)) >= 20
    ]  # fmt: skip
    return {"safety_request": requests, "safety_content": content}
