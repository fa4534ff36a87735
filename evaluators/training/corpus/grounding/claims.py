"""Readers of the ``grounding`` sources: a premise, a hypothesis, and whether it is supported.

Why several kinds: production premises are retrieved chunks and hypotheses are claims, whole
answers or summaries written by a model; each source below brings one of those shapes, and the
``kind`` field lets training weigh or hold them out (claim-level checking matters most).
"""

from __future__ import annotations

import csv
import io
import json
import re

from evaluators.training.corpus.grounding._text import clean, detokenize, trim_around

Files = dict[str, bytes]
SUMMARY_DOC_LIMIT = 3000


def _jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def _tsv(data: bytes) -> list[dict]:
    """Rows of a tab-separated file with a header; a file that is not UTF-8 is read as
    Windows-1252 (the encoding older NLI releases were saved in)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
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
            corpus = {doc["doc_id"]: " ".join(doc["abstract"]) for doc in _jsonl(data)}
        else:
            claim_files.append(data)
    rows = []
    for data in claim_files:
        for item in _jsonl(data):
            labels = {e["label"] for found in item["evidence"].values() for e in found}
            label = CITINT_LABELS[labels.pop()] if len(labels) == 1 else 0 if not labels else None
            doc = corpus.get(item["cited_doc_ids"][0])
            if label is not None and doc:
                rows.append(_row(doc, _uncited(item["claim"]), label, "claim", source))
    return {"grounding": rows}


FEVER_LABELS = {"SUPPORTS": 1, "REFUTES": 0}


def fever_symmetric(files: Files, source: str) -> dict[str, list[dict]]:
    """FEVER claims against one Wikipedia evidence sentence, with hand-written symmetric twins
    (the claim or the evidence changed so the label flips): claim-only cues do not help. The
    files are tokenised ("death metal ."); the spacing is undone."""
    rows = []
    for data in files.values():
        for item in _jsonl(data):
            label = FEVER_LABELS.get(item["gold_label"])
            if label is not None:
                premise, claim = detokenize(item["evidence"]), detokenize(item["claim"])
                rows.append(_row(premise, claim, label, "claim", source))
    return {"grounding": rows}


def snli_counterfactual(files: Files, source: str) -> dict[str, list[dict]]:
    """SNLI pairs with their counterfactual revisions: people edited the premise or the
    hypothesis minimally so that the label changes, so near-identical pairs carry opposite
    labels. Entailment -> 1, neutral and contradiction -> 0."""
    rows = []
    for data in files.values():
        for item in _tsv(data):
            label = SNLI_LABELS.get(item["gold_label"])
            if label is not None and clean(item["sentence1"]) and clean(item["sentence2"]):
                rows.append(_row(item["sentence1"], item["sentence2"], label, "nli", source))
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
            for doc in _jsonl(data):
                abstracts[doc["cord_id"]] = [clean(s) for s in doc["abstract"]]
        else:
            claim_lines.extend(_jsonl(data))
    rows = []
    for item in claim_lines:
        label = CHECK_COVID_LABELS.get(item["label"])
        parts = abstracts.get(item["cord_id"], [])
        indices = sorted({e["sent_index"] for e in item["evidence_set"]})
        premise = " ".join(parts[i] for i in indices if i < len(parts))
        if label is not None and premise:
            rows.append(_row(premise, item["claim"], label, "claim", source))
    return {"grounding": rows}


def negation_nli(files: Files, source: str) -> dict[str, list[dict]]:
    """MNLI and SNLI pairs rewritten with a negation in the premise, the hypothesis or both,
    then labelled again by people: entailment -> 1, neutral and contradiction -> 0. Negation is
    where word overlap misleads most."""
    rows = []
    for data in files.values():
        for item in _tsv(data):
            label = SNLI_LABELS.get(item["gold_label"])
            if label is not None and clean(item["Text"]) and clean(item["Hypothesis"]):
                rows.append(_row(item["Text"], item["Hypothesis"], label, "nli", source))
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
                rows.append(_row(detokenize(knowledge), detokenize(response), label, "answer",
                                 source))  # fmt: skip
    return {"grounding": rows}
