"""Shared reading helpers of the grounding readers: file formats and the row shape.

Why one place: every reader turns its files into the same ``grounding`` row (premise trimmed
around the evidence, hypothesis cleaned), so the row is built here once.
"""

from __future__ import annotations

import csv
import io
import json

from evaluators.training.corpus.grounding._text import clean, trim_around

Files = dict[str, bytes]


def read_jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def read_tsv(data: bytes) -> list[dict]:
    """Rows of a tab-separated file with a header; a file that is not UTF-8 is read as
    Windows-1252 (the encoding older NLI releases were saved in)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def make_row(premise: str, hypothesis: str, label: int, kind: str, source: str) -> dict:
    hypothesis = clean(hypothesis)
    return {
        "premise": trim_around(premise, hypothesis),
        "hypothesis": hypothesis,
        "label": label,
        "kind": kind,
        "source": source,
    }
