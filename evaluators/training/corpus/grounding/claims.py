"""Readers of the ``grounding`` sources: a premise, a hypothesis, and whether it is supported.

Why several kinds: production premises are retrieved chunks and hypotheses are claims, whole
answers or summaries written by a model; each source below brings one of those shapes, and the
``kind`` field lets training weigh or hold them out (claim-level checking matters most).
"""

from __future__ import annotations

import csv
import io
import json

from evaluators.training.corpus.grounding._text import clean, trim_around

Files = dict[str, bytes]
SUMMARY_DOC_LIMIT = 3000


def _jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def _tsv(data: bytes) -> list[dict]:
    text = data.decode("utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def _row(premise: str, hypothesis: str, label: int, kind: str, source: str) -> dict:
    hypothesis = clean(hypothesis)
    return {
        "premise": trim_around(premise, hypothesis),
        "hypothesis": hypothesis,
        "label": label,
        "kind": kind,
        "source": source,
    }


FACTCHECK_GPT_LABELS = {
    "completely-support": 1,
    "partially-support": 0,
    "refute": 0,
    "irrelevant": 0,
}


def factcheck_gpt(files: Files, source: str) -> dict[str, list[dict]]:
    """Claims split from ChatGPT answers, each against web evidence passages, stance by
    annotators. Only complete support counts as supported: a partly supported claim is not
    grounded by that passage."""
    rows = []
    for data in files.values():
        for item in _jsonl(data):
            label = FACTCHECK_GPT_LABELS[item["stance"]]
            rows.append(_row(item["evidence"], item["claim"], label, "claim", source))
    return {"grounding": rows}


BEGIN_LABELS = {"Fully attributable": 1, "Not fully attributable": 0}


def begin(files: Files, source: str) -> dict[str, list[dict]]:
    """Dialogue-model responses judged for attribution to the knowledge snippet they were
    meant to use. ``Generic`` responses ("that's cool") make no claim and are dropped."""
    rows = []
    for data in files.values():
        for item in _tsv(data):
            label = BEGIN_LABELS.get(item["begin_label"])
            if label is not None and clean(item["response"]):
                rows.append(_row(item["knowledge"], item["response"], label, "answer", source))
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
                grounding.append(_row(doc, summary, label, "summary", source))
            seed = clean(item["original_summary"])
            if not item["id"].endswith("_og") and seed and seed != summary:
                paraphrase.append({"a": seed, "b": summary, "label": label, "source": source})
    return {"grounding": grounding, "paraphrase": paraphrase}


SNLI_LABELS = {"entailment": 1, "neutral": 0, "contradiction": 0}


def snli(files: Files, source: str) -> dict[str, list[dict]]:
    """Caption premises with written hypotheses; neutral and contradiction are both
    "not supported". Rows without a gold label (``-``, no annotator majority) are dropped."""
    rows = []
    for data in files.values():
        for item in _jsonl(data):
            label = SNLI_LABELS.get(item["gold_label"])
            if label is not None:
                rows.append(_row(item["sentence1"], item["sentence2"], label, "nli", source))
    return {"grounding": rows}


DIALFACT_LABELS = {"SUPPORTS": 1, "REFUTES": 0, "NOT ENOUGH INFO": 0}


def dialfact(files: Files, source: str) -> dict[str, list[dict]]:
    """Dialogue responses (written by people or generated) checked against the Wikipedia
    snippets the annotators judged them by; the premise is those snippets, each after its page
    title, as a retriever would return them."""
    rows = []
    for data in files.values():
        for item in _jsonl(data):
            label = DIALFACT_LABELS.get(item["response_label"])
            evidence = " ".join(f"{e[0]}: {clean(e[2])}" for e in item["evidence_list"])
            if label is not None and evidence:
                rows.append(_row(evidence, item["response"], label, "claim", source))
    return {"grounding": rows}
