"""Sentence-level answers for the correctness models (training augmentation only).

Extractive QA datasets give short answer spans ("600", "Frankfurt"), while apps answer with
full, reworded sentences. These helpers turn a question + an answer span into a declarative
sentence, add light paraphrase noise (word drops, generic synonyms, fillers, clause order)
and build hard negatives from a right sentence: a near-miss number (x10, +/-1, another
number of the passage), another span of the same kind from the passage, a negation flip.
Negatives get the same noise as the positives, so only the critical token tells them apart.
Every choice comes from a ``random.Random`` seeded with the row's key: deterministic.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter

from evaluators.builtin._quality_nlp import STOPWORDS, SYNONYM_GROUPS, numbers

_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_HOW = {"many", "much", "long", "old", "far", "often", "large", "big", "tall", "high"}
_AUX = {"is", "are", "was", "were", "did", "does", "do", "has", "have", "had", "can",
        "could", "will", "would", "should", "may", "might"}  # fmt: skip
_NEGATABLE = {"is", "are", "was", "were", "can", "could", "will", "would", "should", "does",
              "do", "did", "has", "have", "had", "may", "might", "must"}  # fmt: skip
_FILLERS = ("in fact", "as far as I know", "currently", "usually", "basically", "overall",
            "according to the text", "actually", "generally", "in short")  # fmt: skip
_SYN = {w: g for g in (grp.split() for grp in SYNONYM_GROUPS) for w in g}
_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_CAPS = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")


def rng_for(key: str) -> random.Random:
    return random.Random(int(hashlib.md5(key.encode("utf-8")).hexdigest()[:12], 16))


def _cap(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] if text else text


def declarative(question: str, answer: str, rng: random.Random) -> str:
    """'How many requests does the Pro tier allow?' + '600' -> 'The Pro tier allow 600 requests.'
    (grammar is approximate; the features read words, numbers, entities and negation)."""
    toks = question.strip().rstrip("?.! ").split()
    ans = answer.strip().rstrip(".")
    idx = next((i for i, t in enumerate(toks[:4]) if t.lower() in _WH), None)
    if idx is None:
        return _cap(f"{ans}: {' '.join(toks)}.") if rng.random() < 0.3 else _cap(f"{ans}.")
    lead, j = [t.lower() for t in toks[:idx]], idx + 1
    head: list[str] = []
    if toks[idx].lower() == "how" and j < len(toks) and toks[j].lower() in _HOW:
        j += 1
    elif (
        toks[idx].lower() in ("what", "which", "whose")
        and j < len(toks)
        and (
            toks[j].lower() not in _AUX  # 'what year', 'which team': the head noun stays
        )
    ):
        head = [toks[j]]
        j += 1
    body = toks[j:]
    aux = next((t for t in body[:6] if t.lower() in _AUX), "")
    if aux:
        body = [t for t in body if t is not aux]
    body_s = " ".join(body)
    spoken_aux = aux if aux.lower() not in ("did", "does", "do") else ""
    form = rng.randrange(4)
    if form == 0:
        text = f"{' '.join(head)} {ans} {spoken_aux} {body_s}"
    elif form == 1:
        text = f"{body_s} {spoken_aux} {' '.join(lead)} {ans}"
    elif form == 2:
        text = f"{' '.join(lead)} {ans}, {body_s}" if body_s else ans
    else:
        text = f"the {' '.join(head) or 'answer'} {spoken_aux or 'is'} {ans}"
    return _cap(text.strip(" ,")) + "."


def paraphrase(sentence: str, keep: str, rng: random.Random, vocab: list[str] = ()) -> str:
    """Light rewording that keeps the words of ``keep`` (the answer span) intact.

    ``vocab``: plain words one of which may replace a lower-case word of the sentence, the
    way a reworded answer uses a word the context does not have (an unknown synonym)."""
    kept = {w.lower() for w in re.findall(r"\w+", keep)}
    toks = sentence.rstrip(".").split()
    free = [i for i, t in enumerate(toks) if t.strip(",;:").lower() not in kept]
    if free and rng.random() < 0.4:  # drop a word
        toks.pop(rng.choice(free))
    plain = [i for i, t in enumerate(toks) if t.isalpha() and t.islower() and t not in kept]
    if vocab and plain and rng.random() < 0.5:  # a word the context does not have
        toks[rng.choice(plain)] = rng.choice(vocab)
    free = [i for i, t in enumerate(toks) if t.strip(",;:").lower() not in kept]
    for i in free:
        word = toks[i].strip(",;:").lower()
        if word in _SYN and rng.random() < 0.6:  # a generic synonym
            toks[i] = rng.choice([w for w in _SYN[word] if w != word] or [word])
    if rng.random() < 0.35:  # a filler
        toks.insert(rng.randrange(len(toks) + 1), rng.choice(_FILLERS))
    text = " ".join(toks)
    if "," in text and rng.random() < 0.3:  # clause order
        left, right = text.split(",", 1)
        text = f"{right.strip()}, {left.strip()}"
    return _cap(text) + "."


def near_number(number: str, passage: str, rng: random.Random) -> str:
    """Another number: x10, /10, +/-1, or a different number of the passage."""
    others = sorted(numbers(passage) - {number.replace(",", "")})
    plain = number.replace(",", "")
    choice = rng.randrange(4)
    if choice == 0 and others:
        return rng.choice(others)
    if choice == 1 and plain.isdigit():
        return plain + "0" if rng.random() < 0.6 or len(plain) < 2 else plain[:-1]
    if plain.isdigit():
        return str(max(int(plain) + rng.choice((-1, 1, 2, -2, 5)), 0) or 2)
    return plain + "0"


def negate(sentence: str) -> str:
    """Flip the polarity: remove a negation, or add 'not' after the first auxiliary."""
    flipped = re.sub(r"\b(not|never|no)\b\s*", "", sentence, count=1, flags=re.IGNORECASE)
    if flipped != sentence:
        return _cap(flipped)
    toks = sentence.split()
    for i, t in enumerate(toks[:-1]):
        if t.lower() in _NEGATABLE:
            return " ".join([*toks[: i + 1], "not", *toks[i + 1 :]])
    first, _, rest = sentence.partition(" ")
    if first.lower() in ("the", "a", "an", "it", "they", "this", "these", "there"):
        first = first.lower()
    return f"It is not true that {first} {rest}".strip()


def spans_like(answer: str, candidates: list[str]) -> list[str]:
    """Candidate spans of the same kind as ``answer`` (number / name / other), not overlapping."""
    low = answer.lower()
    kind = _kind(answer)
    return [
        c
        for c in candidates
        if c.strip() and _kind(c) == kind and c.lower() not in low and low not in c.lower()
    ]


def _kind(text: str) -> str:
    if _NUM.search(text):
        return "number"
    return "name" if _CAPS.search(text) else "other"


def names_in(passage: str) -> list[str]:
    """Capitalised runs of a passage (not sentence-initial words), as swap candidates."""
    found = []
    for m in _CAPS.finditer(passage):
        before = passage[: m.start()].rstrip()
        if before and before[-1] not in ".!?":
            found.append(m.group(0))
    return list(dict.fromkeys(found))


def corrupt(sentence: str, answer: str, passage: str, spans: list[str], rng: random.Random):
    """A hard negative of ``sentence`` (which contains ``answer``), or None when none fits."""
    options = []
    nums = _NUM.findall(answer)
    if nums:
        options.append("number")
    same = spans_like(answer, spans + names_in(passage))
    if same and answer in sentence:
        options.append("swap")
    options.append("negate")
    pick = rng.choice(options) if len(options) < 3 else rng.choice(options[:2] * 2 + options[2:])
    if pick == "number":
        n = rng.choice(nums)
        return re.sub(rf"(?<![\d.,]){re.escape(n)}(?![\d])", near_number(n, passage, rng),
                      sentence, count=1)  # fmt: skip
    if pick == "swap":
        return sentence.replace(answer, rng.choice(same), 1)
    return negate(sentence)


def plain_vocabulary(texts: list[str], min_count: int = 3) -> list[str]:
    """Lower-case words (4+ letters, not stopwords) used in at least ``min_count`` texts."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({w for w in re.findall(r"\b[a-z]{4,}\b", text) if w not in STOPWORDS})
    return sorted(w for w, c in counts.items() if c >= min_count)
