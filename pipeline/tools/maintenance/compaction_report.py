"""What a compaction run did, and why a run that merged nothing did (issue 16.10)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from pipeline.sinks.storage import Location

HELD_YOUNG = "young"  # written less than min_age ago
HELD_TAIL = "tail"  # in its partition's recent tail: maybe never committed


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    if minutes % 60:
        return f"{minutes}m" if minutes else f"{int(value.total_seconds())}s"
    return f"{minutes // 60}h"


@dataclass
class Merge:
    hour: Location
    output: Location
    inputs: list[Location]
    rows: int


@dataclass
class Heal:
    """Overlapping files of one topic-partition replaced by one holding each row key once
    (:mod:`pipeline.tools.maintenance.overlaps`)."""

    hour: Location
    output: Location
    inputs: list[Location]
    rows: int
    duplicates_dropped: int


@dataclass
class CompactReport:
    dry_run: bool
    merges: list[Merge] = field(default_factory=list)
    recovered: list[Location] = field(default_factory=list)  # contained files deleted
    heals: list[Heal] = field(default_factory=list)  # overlapping files made one
    skipped: list[tuple[Location, str]] = field(default_factory=list)
    # Why files stayed as they are, so a run that merges nothing can say why (issue 16.10):
    open_hours: int = 0  # hours not closed yet (ended less than min_age ago)
    held: Counter = field(default_factory=Counter)  # unmergeable files by HELD_* reason
    min_age: timedelta = timedelta(0)
    tail_window: timedelta = timedelta(0)

    @property
    def files_merged(self) -> int:
        return sum(len(m.inputs) for m in self.merges)

    @property
    def duplicates_dropped(self) -> int:
        return sum(h.duplicates_dropped for h in self.heals)

    def idle_reason(self) -> str | None:
        """Why a run merged nothing, in one line; None when it merged something."""
        if self.merges or self.heals:
            return None
        age, window = _duration(self.min_age), _duration(self.tail_window)
        parts = []
        if self.held[HELD_TAIL]:
            parts.append(
                f"{self.held[HELD_TAIL]} file(s) are in their partition's recent tail (written"
                f" within {window} of its newest file): they may not be committed yet, and"
                " are merged once newer files of the partition are older than that"
            )
        if self.held[HELD_YOUNG]:
            parts.append(f"{self.held[HELD_YOUNG]} file(s) were written less than {age} ago")
        if self.open_hours:
            parts.append(f"{self.open_hours} hour(s) are current or ended less than {age} ago")
        if not parts:
            parts.append("no closed hour holds two or more files of one topic-partition")
        return "nothing merged: " + "; ".join(parts) + " (see --min-age)"
