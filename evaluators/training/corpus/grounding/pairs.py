"""Readers of the ``paraphrase`` sources: two texts and whether they say the same thing.

Why hard negatives matter here: correctness with a reference must pass "eighteen paid days off
annually" against "18 days per year" yet fail an answer that reuses the reference's words with
another meaning; PAWS (word-swapped sentences) and TruthfulQA (true and false answers to one
question, often worded alike) supply exactly those near-misses.
"""

from __future__ import annotations

import csv
import io
import re

from evaluators.training.corpus.grounding._text import clean, detokenize

Files = dict[str, bytes]


def paws(files: Files, source: str) -> dict[str, list[dict]]:
    """PAWS-Wiki labelled (final) pairs: 1 paraphrase, 0 not (same words, other meaning). The
    files are tokenised ("Paris , in 1560 ."); the spacing is undone so rows read like text."""
    rows = []
    for data in files.values():
        reader = csv.reader(io.StringIO(data.decode("utf-8")), delimiter="\t",
                            quoting=csv.QUOTE_NONE)  # fmt: skip
        for fields in reader:
            if len(fields) != 4 or fields[0] == "id":
                continue
            a, b = detokenize(fields[1]), detokenize(fields[2])
            if a and b:
                rows.append({"a": a, "b": b, "label": int(fields[3]), "source": source})
    return {"paraphrase": rows}


_UNINFORMATIVE = re.compile(r"^(i have no comment|no comment|i don't know|unknown)\.?$", re.I)


def _answers(cell: str) -> list[str]:
    return [clean(part) for part in cell.split(";") if clean(part)]


def truthfulqa(files: Files, source: str) -> dict[str, list[dict]]:
    """Answer equivalence: the best true answer to a question vs each other true answer (1) and
    each false answer (0). Non-answers ("I have no comment") are true but say nothing, so they
    are never paired as a paraphrase."""
    rows = []
    for data in files.values():
        for item in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))):
            best = clean(item["Best Answer"])
            if not best:
                continue
            for answer in _answers(item["Correct Answers"]):
                if answer.lower() != best.lower() and not _UNINFORMATIVE.match(answer):
                    rows.append({"a": best, "b": answer, "label": 1, "source": source})
            for answer in _answers(item["Incorrect Answers"]):
                rows.append({"a": best, "b": answer, "label": 0, "source": source})
    return {"paraphrase": rows}
