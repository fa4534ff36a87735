"""Training rows of the encoder heads: the pinned corpora, sorted, optionally minus a source."""

from __future__ import annotations

from evaluators.training.corpus import task_path
from evaluators.training.corpus._sources import read_jsonl_gz, sample_per_source, stable_sample

SAFETY_TASKS = ("safety_request", "safety_content", "refusal", "jailbreak")
JAILBREAK_ROWS_PER_SOURCE = 2500
"""Jailbreak rows are long prompt + answer pairs (two embeddings each): a stable sample."""


def corpus_rows(task: str, exclude: str | None = None) -> list[dict]:
    """Rows of one corpus task (empty when its data file is absent), in file order, minus
    those of source (or, for refusals, model) ``exclude``."""
    path = task_path(task)
    if not path.is_file():
        return []
    return [
        r
        for r in read_jsonl_gz(path)
        if exclude is None or exclude not in (r["source"], r.get("model"))
    ]


PAIR_ROWS_PER_SOURCE = {"paraphrase": 1000, "grounding": 400, "answerable": 600}
"""Rows per source and pair task the heads train on: a stable sample. Embedding the pairs
(and up to four context sentences each) is the slow part of training on two shared cores;
more rows of one source would mostly teach that source's style."""
SAMPLE_KEY = {"paraphrase": "b", "grounding": "hypothesis", "answerable": "question"}


def pair_rows(task: str, exclude: str | None = None) -> list[dict]:
    """A pair task's corpus rows, at most ``PAIR_ROWS_PER_SOURCE`` per source, sorted."""
    return sample_per_source(corpus_rows(task, exclude), PAIR_ROWS_PER_SOURCE[task],
                             SAMPLE_KEY[task])  # fmt: skip


def safety_rows(exclude: str | None = None) -> dict[str, list[dict]]:
    rows = {task: corpus_rows(task, exclude) for task in SAFETY_TASKS}
    rows["refusal"] = [r for r in rows["refusal"] if (r.get("response") or "").strip()]
    jail = [r for r in rows["jailbreak"] if (r.get("response") or "").strip()]
    rows["jailbreak"] = sample_per_source(jail, JAILBREAK_ROWS_PER_SOURCE, "response")
    return rows


SHARED_ROWS = 3000
"""Rows of the shared datasets' train splits (SQuAD, HaluEval) the pair heads train on."""


def shared_sample(rows: list[dict], key: str) -> list[dict]:
    """A stable sample of ``SHARED_ROWS`` rows (by the sha256 of ``key``), in input order."""
    if len(rows) <= SHARED_ROWS:
        return rows
    chosen = {id(r) for r in stable_sample(rows, SHARED_ROWS, key)}
    return [r for r in rows if id(r) in chosen]
