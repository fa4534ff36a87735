"""Readers of claim-level fact-checking sources: a claim, its evidence, supported or not.

Why these matter most: groundedness is scored claim by claim against retrieved documents, and
each source here brings claims of another origin (LLM answers, citing sentences, news, FEVER,
dialogue) checked by people against the evidence they cite.
"""

from __future__ import annotations

import re

from evaluators.training.corpus.grounding._read import Files, make_row, read_jsonl
from evaluators.training.corpus.grounding._text import clean, detokenize

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
        for item in read_jsonl(data):
            label = FACTCHECK_GPT_LABELS[item["stance"]]
            rows.append(make_row(item["evidence"], item["claim"], label, "claim", source))
    return {"grounding": rows}


DIALFACT_LABELS = {"SUPPORTS": 1, "REFUTES": 0, "NOT ENOUGH INFO": 0}


def dialfact(files: Files, source: str) -> dict[str, list[dict]]:
    """Dialogue responses (written by people or generated) checked against the Wikipedia
    snippets the annotators judged them by; the premise is those snippets, each after its page
    title, as a retriever would return them."""
    rows = []
    for data in files.values():
        for item in read_jsonl(data):
            label = DIALFACT_LABELS.get(item["response_label"])
            evidence = " ".join(f"{e[0]}: {clean(e[2])}" for e in item["evidence_list"])
            if label is not None and evidence:
                rows.append(make_row(evidence, item["response"], label, "claim", source))
    return {"grounding": rows}


_CITATION_MARK = re.compile(r"\s*[\[(]?\s*(<\|[a-z_]+\|>\s*[,;]?\s*)+[\])]?")


CITINT_LABELS = {"SUPPORT": 1, "REFUTE": 0}


def _uncited(claim: str) -> str:
    """The citing sentence without its citation placeholders ("... death [<|multi_cit|>].")."""
    return re.sub(r"\s+([.,;:])", r"\1", _CITATION_MARK.sub(" ", claim)).strip()


def citation_integrity(files: Files, source: str) -> dict[str, list[dict]]:
    """Citing sentences from biomedical papers against the passage of the cited paper they
    rely on. SUPPORT -> 1; REFUTE (the cited text contradicts, oversimplifies or does not
    substantiate the sentence) and no evidence in the passage -> 0."""
    corpus = {}
    claim_files = []
    for path, data in files.items():
        if path.endswith("corpus.jsonl"):
            corpus = {doc["doc_id"]: " ".join(doc["abstract"]) for doc in read_jsonl(data)}
        else:
            claim_files.append(data)
    rows = []
    for data in claim_files:
        for item in read_jsonl(data):
            labels = {e["label"] for found in item["evidence"].values() for e in found}
            label = CITINT_LABELS[labels.pop()] if len(labels) == 1 else 0 if not labels else None
            doc = corpus.get(item["cited_doc_ids"][0])
            if label is not None and doc:
                rows.append(make_row(doc, _uncited(item["claim"]), label, "claim", source))
    return {"grounding": rows}


FEVER_LABELS = {"SUPPORTS": 1, "REFUTES": 0}


def fever_symmetric(files: Files, source: str) -> dict[str, list[dict]]:
    """FEVER claims against one Wikipedia evidence sentence, with hand-written symmetric twins
    (the claim or the evidence changed so the label flips): claim-only cues do not help. The
    files are tokenised ("death metal ."); the spacing is undone."""
    rows = []
    for data in files.values():
        for item in read_jsonl(data):
            label = FEVER_LABELS.get(item["gold_label"])
            if label is not None:
                premise, claim = detokenize(item["evidence"]), detokenize(item["claim"])
                rows.append(make_row(premise, claim, label, "claim", source))
    return {"grounding": rows}


CHECK_COVID_LABELS = {"SUPPORT": 1, "REFUTE": 0, "NOTENOUGHINFO": 0}


def check_covid(files: Files, source: str) -> dict[str, list[dict]]:
    """News claims about COVID-19 (written by journalists or by annotators) against sentences
    of a scientific abstract. The premise is the annotated evidence sentences only, never the
    whole abstract: a NOTENOUGHINFO claim is paired with sentences that do not settle it, while
    another sentence of the same abstract may well support it."""
    abstracts: dict[str, list[str]] = {}
    claim_lines: list[dict] = []
    for path, data in files.items():
        if path.endswith("corpus.json"):
            for doc in read_jsonl(data):
                abstracts[doc["cord_id"]] = [clean(s) for s in doc["abstract"]]
        else:
            claim_lines.extend(read_jsonl(data))
    rows = []
    for item in claim_lines:
        label = CHECK_COVID_LABELS.get(item["label"])
        parts = abstracts.get(item["cord_id"], [])
        indices = sorted({e["sent_index"] for e in item["evidence_set"]})
        premise = " ".join(parts[i] for i in indices if i < len(parts))
        if label is not None and premise:
            rows.append(make_row(premise, item["claim"], label, "claim", source))
    return {"grounding": rows}
