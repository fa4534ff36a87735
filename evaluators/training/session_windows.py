"""Jailbreak training rows shaped like conversation turns: session windows and short answers.

``session_safety`` scores a conversation's last turns read together: the user messages of up
to ``window_turns`` turns joined with newlines, with the last turn's answer. The jailbreak
corpora hold single prompts, so a head trained on them alone never sees a request preceded by
other turns (a one-hidden-layer head gave the four-turn window of
tests/evaluators/builtin/test_session_builtin.py p_jailbreak 0.35, the linear head 0.66).

Each window row is a corpus row with one to three earlier user turns before its prompt: benign
requests of the request corpus (``CONTEXT_SOURCES``, label 0), picked by the sha256 of the
row's prompt. The row keeps its label and source: earlier harmless turns neither make a
harmful request benign nor a benign one harmful, and a refusal stays a refusal. Built from the
training rows only (a held-out source's rows are never among them); deterministic.

Each opening row is a corpus row with its answer cut to its first sentences (at most
``OPENING_CHARS``): a turn of a conversation is often one or two sentences ("Sure. Fill a steel
pipe with ...": the linear head gave that 0.02, having seen complying answers of hundreds of
characters only, while most short answers of the corpora are refusals). A compliance or a
refusal shows in an answer's opening (the encoder reads only the opening of an answer too), so
the opening keeps the row's label.
"""

from __future__ import annotations

import hashlib

from evaluators.builtin._quality_nlp import sentences
from evaluators.training.corpus._sources import sample_per_source

WINDOW_ROWS_PER_SOURCE = 400
"""Window rows built per jailbreak source (a stable sample of its rows)."""
CONTEXT_SOURCES = ("banking77", "chatbot_benchmarks", "clinc_oos", "nq_open", "self_instruct")
"""Request-corpus sources whose (benign) requests are the earlier turns: ordinary assistant
requests, not the look-alikes written to resemble harmful ones."""
MAX_CONTEXT_TURNS = 3
OPENING_ROWS_PER_SOURCE = 400
OPENING_CHARS = 200
"""Longest opening kept: whole sentences up to this many characters (the first sentence,
cut at a word, when it alone is longer)."""


def context_pool(requests: list[dict]) -> list[str]:
    """The benign requests earlier turns are drawn from, sorted (no order dependence)."""
    return sorted({r["text"].strip() for r in requests
                   if r["source"] in CONTEXT_SOURCES and r["label"] == 0
                   and r["text"].strip()})  # fmt: skip


def window_rows(jail: list[dict], requests: list[dict]) -> list[dict]:
    """Window rows for the jailbreak rows ``jail`` (``prompt``, ``response``, ``label``,
    ``source``), earlier turns from the request rows ``requests``."""
    pool = context_pool(requests)
    if not pool:
        return []
    out = []
    for row in sample_per_source(jail, WINDOW_ROWS_PER_SOURCE, "response"):
        digest = hashlib.sha256(("window|" + row["prompt"]).encode("utf-8")).digest()
        turns = 1 + digest[0] % MAX_CONTEXT_TURNS
        earlier = [pool[int.from_bytes(digest[1 + 4 * i : 5 + 4 * i], "big") % len(pool)]
                   for i in range(turns)]  # fmt: skip
        out.append({**row, "prompt": "\n".join([*earlier, row["prompt"]]), "style": "window"})
    return out


def opening(text: str, limit: int = OPENING_CHARS) -> str:
    """The first sentences of ``text`` up to ``limit`` characters."""
    kept = ""
    for sentence in sentences(text):
        joined = f"{kept} {sentence}".strip()
        if len(joined) > limit:
            break
        kept = joined
    if not kept:
        kept = " ".join(text.split())[:limit].rsplit(" ", 1)[0]
    return kept


def opening_rows(jail: list[dict]) -> list[dict]:
    """Opening rows for the jailbreak rows ``jail``: the answer cut to its opening (rows whose
    answer is already that short are left out: they are in ``jail``)."""
    out = []
    for row in sample_per_source(jail, OPENING_ROWS_PER_SOURCE, "prompt"):
        answer = row["response"] or ""
        short = opening(answer)
        if short.strip() and len(short) < len(" ".join(answer.split())):
            out.append({**row, "response": short, "style": "opening"})
    return out
