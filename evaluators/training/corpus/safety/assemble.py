"""Merging the rows of all sources of one task into the rows we ship.

Why here and not per source: the same text turns up in several benchmarks (JailbreakBench
goals are partly AdvBench goals, StrongREJECT copies AdvBench and MaliciousInstruct rows), and
a text present in two sources would leak across a held-out-source split. Each text therefore
survives once, under the first source in id order; a text that sources (or one source) label
differently is dropped altogether, because neither label can be trusted.
"""

from __future__ import annotations

from evaluators.training.corpus._sources import normalised

FIELDS = {
    "safety_content": ("text", "label", "category", "source"),
    "safety_request": ("text", "label", "category", "lookalike", "source"),
    "refusal": ("prompt", "response", "label", "model", "source"),
    "jailbreak": ("prompt", "response", "label", "style", "source"),
}


def row_key(task: str, row: dict) -> str:
    """What makes two rows the same example: the text, or the prompt and response pair."""
    if task in ("refusal", "jailbreak"):
        return normalised(row.get("prompt")) + "\x00" + normalised(row["response"])
    return normalised(row["text"])


def assemble(task: str, rows: list[dict]) -> list[dict]:
    """One row per key, only the contract's fields, conflicting keys dropped."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        key = row_key(task, row)
        if key.strip("\x00"):
            groups.setdefault(key, []).append(row)
    kept = []
    for group in groups.values():
        if len({row["label"] for row in group}) > 1:
            continue
        first = min(group, key=lambda row: row["source"])
        kept.append({field: first.get(field) for field in FIELDS[task]})
    return sorted(kept, key=lambda row: (row["source"], row_key(task, row)))


def cross_source_duplicates(task: str, rows: list[dict]) -> dict[str, set[str]]:
    """Keys found in more than one source (before merging), with the sources."""
    sources: dict[str, set[str]] = {}
    for row in rows:
        sources.setdefault(row_key(task, row), set()).add(row["source"])
    return {key: ids for key, ids in sources.items() if len(ids) > 1}
