"""Readers of the ``answerable`` sources: a question, a context, and whether it answers it.

Why sentence- and passage-level rows both: context sufficiency scores retrieved chunks of any
size, and the commonest failure is a chunk from the right page that lacks the one sentence
holding the answer. ``kind`` says which shape a row has: ``sentence`` (QNLI), ``passage``
(a SelQA section window holding the annotated answer sentences) or ``answer_removed`` (the same
window with exactly those sentences taken out: derived from the annotation, not a new label).
"""

from __future__ import annotations

import csv
import io
import json

from evaluators.training.corpus.grounding._text import PREMISE_LIMIT, clean, window

Files = dict[str, bytes]
SQUAD_BENCHMARK_HALF = "data/dev-v2.0.json"
SQUAD_OTHER_HALF = "data/test-v2.0.json"


def _squad_index(data: bytes) -> tuple[str, set[str]]:
    articles = json.loads(data.decode("utf-8"))["data"]
    paragraphs = [p for a in articles for p in a["paragraphs"]]
    contexts = "\n".join(clean(p["context"]) for p in paragraphs)
    questions = {clean(q["question"]) for p in paragraphs for q in p["qas"]}
    return contexts, questions


def qnli(files: Files, source: str) -> dict[str, list[dict]]:
    """QNLI dev (GLUE): does this Wikipedia sentence contain the answer to the question?

    QNLI dev is built from the SQuAD 1.1 dev articles, the same articles as the SQuAD 2.0 dev
    set that the context-sufficiency benchmark scores (the CS224n half in shared/datasets).
    So only rows whose sentence is found in the *other* CS224n half (labels withheld there,
    contexts public) and neither the sentence nor the question in the benchmark half are kept.
    """
    bench_contexts, bench_questions = _squad_index(files[SQUAD_BENCHMARK_HALF])
    other_contexts, _ = _squad_index(files[SQUAD_OTHER_HALF])
    rows = []
    qnli_files = [p for p in files if p.endswith(".tsv")]
    for path in qnli_files:
        text = files[path].decode("utf-8")
        for item in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            question, sentence = clean(item["question"]), clean(item["sentence"])
            keep = (sentence in other_contexts and sentence not in bench_contexts
                    and question not in bench_questions)  # fmt: skip
            if keep:
                label = 1 if item["label"] == "entailment" else 0
                rows.append({"question": question, "context": sentence, "label": label,
                             "kind": "sentence", "source": source})  # fmt: skip
    return {"answerable": rows}


def selqa(files: Files, source: str) -> dict[str, list[dict]]:
    """SelQA answer-sentence selection: each question has a Wikipedia section whose sentences
    are marked as holding the answer or not. One row with the answer (the window around the
    first answer sentence) and one with the annotated answer sentences removed."""
    rows = []
    for data in files.values():
        for item in json.loads(data.decode("utf-8")):
            question = clean(item["question"])
            parts = [clean(c) for c in item["candidates"]]
            answers = sorted(set(item["answers"]))
            if not question or not answers or len(answers) == len(parts):
                continue
            rows.append({"question": question, "context": window(parts, answers[0]),
                         "label": 1, "kind": "passage", "source": source})  # fmt: skip
            kept = [i for i in range(len(parts)) if i not in answers]
            rest = [parts[i] for i in kept]
            centre = min(range(len(kept)), key=lambda j: (abs(kept[j] - answers[0]), j))
            rows.append({"question": question, "context": window(rest, centre, PREMISE_LIMIT),
                         "label": 0, "kind": "answer_removed", "source": source})  # fmt: skip
    return {"answerable": rows}
