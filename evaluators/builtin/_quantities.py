"""Quantities written in words or other units, so a paraphrase agrees with its reference:
'eighteen' == '18', 'two weeks' == '14 days' == 'a fortnight', 'annually' == 'per year'.

``quantities`` feeds ``_quality_nlp.numbers`` (the number features); ``canonical`` rewrites a
text that way before the word features of the reference comparison.
"""

from __future__ import annotations

import re

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen"
_TEENS = "fourteen fifteen sixteen seventeen eighteen nineteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
_CARDINALS = {w: i for i, w in enumerate(f"{_UNITS} {_TEENS}".split())}
_CARDINALS.update({w: 10 * (i + 2) for i, w in enumerate(_TENS.split())})
_DAYS = {"day": 1, "days": 1, "week": 7, "weeks": 7, "fortnight": 14, "fortnights": 14}
HAS_QUANTITY = re.compile(r"\b(?:" + "|".join([*_CARDINALS, *_DAYS]) + r")\b", re.IGNORECASE)
_QUANTITY_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+", re.IGNORECASE)

_PER = {"annually": "per year", "yearly": "per year", "annual": "per year",
        "monthly": "per month", "weekly": "per week", "daily": "per day",
        "hourly": "per hour"}  # fmt: skip
_PER_PHRASE = re.compile(r"\b(?:a|an|each|every)\s+(year|month|week|day|hour)\b", re.IGNORECASE)


def quantities(text: str, found: set[str]) -> set[str]:
    """``numbers`` for a text with number words or spans of time (the slow path)."""
    tokens = [t.lower() for t in _QUANTITY_TOKEN.findall(text)]
    out, i = set(found), 0
    while i < len(tokens):
        value, j = _number_at(tokens, i)
        unit = tokens[j] if j < len(tokens) else ""
        if value is None and tokens[i] in ("a", "an") and unit in _DAYS:
            value = 1
        if value is not None and unit in _DAYS:
            days = value * _DAYS[unit]
            out.discard(_fmt(value) if tokens[i][0].isdigit() else "")
            out.add(_fmt(days))
            i = j + 1
            continue
        if value is not None and tokens[i] in _CARDINALS and tokens[i] != "one":
            out.add(_fmt(value))
        i = max(j, i + 1)
    return out


def _number_at(tokens: list[str], i: int) -> tuple[float | None, int]:
    """The number starting at ``tokens[i]`` (digits, or cardinal words like 'twenty one') and
    the index after it; ``None`` when there is none."""
    token = tokens[i]
    if token[0].isdigit():
        try:
            return float(token.replace(",", "")), i + 1
        except ValueError:
            return None, i + 1
    if token not in _CARDINALS:
        return None, i + 1
    value, j = _CARDINALS[token], i + 1
    if value >= 20 and j < len(tokens) and 0 < _CARDINALS.get(tokens[j], 0) < 10:
        value, j = value + _CARDINALS[tokens[j]], j + 1
    return float(value), j


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def canonical(text: str) -> str:
    """``text`` with cardinal words as digits, weeks / fortnights as days and frequency
    adverbs as 'per <unit>' ('eighteen paid days off annually' -> '18 paid days off per
    year'); the words stay when nothing applies."""
    if not HAS_QUANTITY.search(text) and not any(w in text.lower() for w in _PER):
        return text
    tokens = _QUANTITY_TOKEN.findall(text)
    lower = [t.lower() for t in tokens]
    out, i = [], 0
    while i < len(tokens):
        value, j = _number_at(lower, i)
        unit = lower[j] if j < len(lower) else ""
        if value is None and lower[i] in ("a", "an") and unit in ("week", "fortnight"):
            value = 1.0
        if value is not None and unit in _DAYS:
            out += [_fmt(value * _DAYS[unit]), "day" if value * _DAYS[unit] == 1 else "days"]
            i = j + 1
        elif value is not None and lower[i] in _CARDINALS and lower[i] != "one":
            out.append(_fmt(value))
            i = j
        else:
            out.append(_PER.get(lower[i], tokens[i]))
            i += 1
    return _PER_PHRASE.sub(lambda m: f"per {m.group(1).lower()}", " ".join(out))
