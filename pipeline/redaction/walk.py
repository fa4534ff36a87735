"""Copying a JSON-like value with every string redacted: the walk the ``Redactor`` uses.

Recursive (fast) for normal depths, iterative beyond ``MAX_RECURSION`` levels so a deeply
nested value cannot exhaust the stack; shared and cyclic containers stay shared in the copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MAX_RECURSION = 64
RedactStr = Callable[[str, dict[str, int]], str]


def copy_redacted(
    value: Any, redact_str: RedactStr | None, counts: dict[str, int], depth: int = 0
) -> Any:
    """A copy of ``value`` with strings passed through ``redact_str`` (None: kept as they are).

    Dicts, lists and tuples are copied (dict keys kept); other values are returned unchanged;
    ``counts`` gains the matches per kind. The input is never mutated.
    """
    if isinstance(value, str):
        return redact_str(value, counts) if value and redact_str else value
    if isinstance(value, dict):
        if depth > MAX_RECURSION:
            return _copy_iterative(value, redact_str, counts)
        depth += 1
        return {k: copy_redacted(v, redact_str, counts, depth) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if depth > MAX_RECURSION:
            return _copy_iterative(value, redact_str, counts)
        depth += 1
        items = [copy_redacted(v, redact_str, counts, depth) for v in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _copy_iterative(value: Any, redact_str: RedactStr | None, counts: dict[str, int]) -> Any:
    """Iterative copy-and-redact: no recursion limit; shared/cyclic containers kept."""
    memo: dict[int, Any] = {}
    tuples: list[tuple[Any, Any, list[Any]]] = []  # (parent, key, list-to-freeze)

    def copy_of(src: Any, parent: Any, key: Any) -> Any:
        dst: Any = {} if isinstance(src, dict) else [None] * len(src)
        memo[id(src)] = dst
        if isinstance(src, tuple):
            tuples.append((parent, key, dst))
        stack.append((src, dst))
        return dst

    root: list[Any] = [None]
    stack: list[tuple[Any, Any]] = []
    root[0] = copy_of(value, root, 0)
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, item in items:
            if isinstance(item, str):
                dst[key] = redact_str(item, counts) if item and redact_str else item
            elif isinstance(item, dict | list | tuple):
                seen = memo.get(id(item))
                dst[key] = seen if seen is not None else copy_of(item, dst, key)
            else:
                dst[key] = item
    # Freeze tuples innermost-first (they were created parent-first).
    for parent, key, lst in reversed(tuples):
        parent[key] = tuple(lst)
    return root[0]
