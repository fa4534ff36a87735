"""Text shaping shared by the readers: whitespace, trimming long premises, stable samples.

Why trimming picks a window around the best-matching sentence: the encoder sees at most a few
hundred tokens, and a retrieved chunk in production is about that long; cutting a long document
at its start would drop the evidence the label is about.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

PREMISE_LIMIT = 2000
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def clean(text: str | None) -> str:
    """One line, single spaces: the form every row is written in."""
    return re.sub(r"\s+", " ", (text or "").replace("\ufeff", "")).strip()


_DETOKENIZE = (
    (re.compile(r"``\s*|\s*''"), '"'),
    (re.compile(r"\s+([,.;:!?%)\]])"), r"\1"),
    (re.compile(r"([(\[])\s+"), r"\1"),
    (re.compile(r"\s+('s|'re|'ve|'ll|'d|n't)\b"), r"\1"),
)


def detokenize(text: str) -> str:
    """Undo Penn-Treebank style spacing ("Paris , in 1560 .") so rows read like real text."""
    text = clean(text)
    for pattern, replacement in _DETOKENIZE:
        text = pattern.sub(replacement, text)
    return text


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(clean(text)) if s]


def window(parts: list[str], centre: int, limit: int = PREMISE_LIMIT) -> str:
    """``parts[centre]`` grown alternately right and left while the text fits ``limit``."""
    lo, hi = centre, centre + 1
    size = len(parts[centre])
    grew = True
    while grew:
        grew = False
        if hi < len(parts) and size + 1 + len(parts[hi]) <= limit:
            size += 1 + len(parts[hi])
            hi += 1
            grew = True
        if lo > 0 and size + 1 + len(parts[lo - 1]) <= limit:
            size += 1 + len(parts[lo - 1])
            lo -= 1
            grew = True
    return " ".join(p for p in parts[lo:hi] if p)[:limit].strip()


def trim_around(premise: str, hypothesis: str, limit: int = PREMISE_LIMIT) -> str:
    """``premise`` itself when short enough, else the window around the sentence that shares
    the most words with ``hypothesis``."""
    premise = clean(premise)
    if len(premise) <= limit:
        return premise
    parts = sentences(premise)
    target = words(hypothesis)
    best = max(range(len(parts)), key=lambda i: (len(words(parts[i]) & target), -i))
    return window(parts, best, limit)


def stable_key(*texts: str) -> str:
    return hashlib.sha256("\x1f".join(texts).encode("utf-8")).hexdigest()


def stable_sample(rows: list[dict], n: int, key: Callable[[dict], str]) -> list[dict]:
    """The ``n`` rows with the lowest sha256 of ``key(row)``: a sample that never changes."""
    if len(rows) <= n:
        return rows
    return sorted(rows, key=lambda row: stable_key(key(row)))[:n]
