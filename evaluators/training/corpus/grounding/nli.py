"""Readers of NLI sources: premise, hypothesis, entailed or not (neutral and contradiction
are both "not supported").

Why NLI at all: short, varied pairs with minimal edits that flip the label (counterfactual
revisions, added negations) teach what exactly makes a hypothesis unsupported.
"""

from __future__ import annotations

from evaluators.training.corpus.grounding._read import Files, make_row, read_jsonl, read_tsv
from evaluators.training.corpus.grounding._text import clean

SNLI_LABELS = {"entailment": 1, "neutral": 0, "contradiction": 0}


def snli(files: Files, source: str) -> dict[str, list[dict]]:
    """Caption premises with written hypotheses; neutral and contradiction are both
    "not supported". Rows without a gold label (``-``, no annotator majority) are dropped."""
    rows = []
    for data in files.values():
        for item in read_jsonl(data):
            label = SNLI_LABELS.get(item["gold_label"])
            if label is not None:
                rows.append(make_row(item["sentence1"], item["sentence2"], label, "nli", source))
    return {"grounding": rows}


def snli_counterfactual(files: Files, source: str) -> dict[str, list[dict]]:
    """SNLI pairs with their counterfactual revisions: people edited the premise or the
    hypothesis minimally so that the label changes, so near-identical pairs carry opposite
    labels. Entailment -> 1, neutral and contradiction -> 0."""
    rows = []
    for data in files.values():
        for item in read_tsv(data):
            label = SNLI_LABELS.get(item["gold_label"])
            if label is not None and clean(item["sentence1"]) and clean(item["sentence2"]):
                rows.append(make_row(item["sentence1"], item["sentence2"], label, "nli", source))
    return {"grounding": rows}


def negation_nli(files: Files, source: str) -> dict[str, list[dict]]:
    """MNLI and SNLI pairs rewritten with a negation in the premise, the hypothesis or both,
    then labelled again by people: entailment -> 1, neutral and contradiction -> 0. Negation is
    where word overlap misleads most."""
    rows = []
    for data in files.values():
        for item in read_tsv(data):
            label = SNLI_LABELS.get(item["gold_label"])
            if label is not None and clean(item["Text"]) and clean(item["Hypothesis"]):
                rows.append(make_row(item["Text"], item["Hypothesis"], label, "nli", source))
    return {"grounding": rows}
