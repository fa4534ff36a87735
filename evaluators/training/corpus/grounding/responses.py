"""Readers of model outputs judged against their source: dialogue answers and summaries.

Why apart from claims: here the hypothesis is a whole response or summary written by a model,
the shape the evaluator sees in production, and labels say whether all of it is grounded.
"""

from __future__ import annotations

import csv
import io
import json
import re

from evaluators.training.corpus.grounding._read import Files, make_row, read_tsv
from evaluators.training.corpus.grounding._text import clean, detokenize

SUMMARY_DOC_LIMIT = 3000


BEGIN_LABELS = {"Fully attributable": 1, "Not fully attributable": 0}


def begin(files: Files, source: str) -> dict[str, list[dict]]:
    """Dialogue-model responses judged for attribution to the knowledge snippet they were
    meant to use. ``Generic`` responses ("that's cool") make no claim and are dropped."""
    rows = []
    for data in files.values():
        for item in read_tsv(data):
            label = BEGIN_LABELS.get(item["begin_label"])
            if label is not None and clean(item["response"]):
                rows.append(make_row(item["knowledge"], item["response"], label, "answer", source))
    return {"grounding": rows}


_HALLUCINATED = {"hallucination", "partial hallucination"}


def _begin_tags(cell: str) -> set[str]:
    """The comma-separated BEGIN tags of one response, as written ("entailment. uncooperative",
    "entailmentt" included)."""
    tags = {t.strip().lower() for t in re.split(r"[,.]", cell) if t.strip()}
    return {"entailment" if t.startswith("entailment") else t for t in tags}


def faithdial_audit(files: Files, source: str) -> dict[str, list[dict]]:
    """Gold and model responses of knowledge-grounded dialogue benchmarks, tagged by people:
    entailed by the knowledge (possibly also uncooperative) -> 1; any hallucinated part -> 0;
    responses tagged only generic or uncooperative say nothing checkable and are dropped."""
    rows = []
    for data in files.values():
        for item in csv.DictReader(io.StringIO(data.decode("utf-8"))):
            knowledge = item.get("knowledge") or item.get("evidence") or ""
            response = next(v for k, v in item.items() if k not in
                            ("knowledge", "evidence", "history", "begin_label", "BEGIN",
                             "vrm_label", "VRM"))  # fmt: skip
            tags = _begin_tags(item.get("begin_label") or item.get("BEGIN") or "")
            label = 0 if tags & _HALLUCINATED else 1 if "entailment" in tags else None
            if label is not None and clean(knowledge) and clean(response):
                premise, hypothesis = detokenize(knowledge), detokenize(response)
                rows.append(make_row(premise, hypothesis, label, "answer", source))
    return {"grounding": rows}


def summedits(files: Files, source: str) -> dict[str, list[dict]]:
    """Seed summaries and their edits, each judged consistent or not with the document.

    Grounding: document vs (edited) summary, documents over ``SUMMARY_DOC_LIMIT`` characters
    dropped (the evidence of a summary is spread over the whole document, so a trimmed premise
    could lose it). Paraphrase: the seed summary vs each edit; an edit judged inconsistent
    changes what is said (a hard negative with nearly the same words), a consistent one keeps
    it.
    """
    grounding, paraphrase = [], []
    for data in files.values():
        for item in json.loads(data.decode("utf-8")):
            label = int(item["label"])
            doc, summary = clean(item["doc"]), clean(item["summary"])
            if len(doc) <= SUMMARY_DOC_LIMIT:
                grounding.append(make_row(doc, summary, label, "summary", source))
            seed = clean(item["original_summary"])
            if not item["id"].endswith("_og") and seed and seed != summary:
                paraphrase.append({"a": seed, "b": summary, "label": label, "source": source})
    return {"grounding": grounding, "paraphrase": paraphrase}
