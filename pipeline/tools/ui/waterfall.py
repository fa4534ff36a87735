"""Spans as a timing waterfall: tree order, depth, and each bar's place on the time axis.

Pure layout, no HTML: the page draws the bars and ``trace show`` prints the same rows. A span
whose parent is not stored (a partial trace) becomes a root instead of being lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Bar:
    span: dict[str, Any]
    depth: int
    left_pct: float
    width_pct: float
    duration_ms: float | None


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000


def tree_order(spans: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Depth-first, children by start time; each span once even if parent links loop."""
    ids = {s["span_id"] for s in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent_id")
        children.setdefault(parent if parent in ids else None, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: (s.get("start_time") is None, s.get("start_time") or 0))
    out: list[tuple[dict[str, Any], int]] = []
    seen: set[str] = set()

    def visit(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            if span["span_id"] in seen:
                continue
            seen.add(span["span_id"])
            out.append((span, depth))
            visit(span["span_id"], depth + 1)

    visit(None, 0)
    # Spans only reachable through a cycle have no root: show them flat at the end.
    out += [(s, 0) for s in spans if s["span_id"] not in seen]
    return out


def waterfall(spans: list[dict[str, Any]]) -> list[Bar]:
    starts = [s["start_time"] for s in spans if s.get("start_time")]
    ends = [s["end_time"] for s in spans if s.get("end_time")] + starts
    if not starts:
        return [Bar(s, d, 0.0, 100.0, None) for s, d in tree_order(spans)]
    first, last = min(starts), max(ends)
    total = max(_ms(first, last) or 0.0, 1e-3)
    bars = []
    for span, depth in tree_order(spans):
        start, end = span.get("start_time"), span.get("end_time")
        left = (_ms(first, start) or 0.0) / total * 100 if start else 0.0
        duration = _ms(start, end)
        width = max((duration or 0.0) / total * 100, 0.5)
        bars.append(Bar(span, depth, round(left, 2), round(min(width, 100 - left), 2), duration))
    return bars
