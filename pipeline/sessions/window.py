"""Event-time session windows, as plain JSON-able dicts (no faust: easy to test).

One table entry per session id::

    {"p": partition, "sid": session id, "turns": {trace_id: turn}, "first": t, "last": t,
     "open": True while collecting, "version": closings so far, "closed_by": reason,
     "ended": an end marker was seen}

and one per partition (key ``partition_key(p)``): ``{"p": p, "max_event": newest trace time
seen, "arrival": wall time of the newest turn}``. Times ``t`` are trace timestamps in epoch
seconds (event time); only ``arrival`` is wall-clock.

The watermark of a partition is ``max_event - lateness``, advanced by the wall-clock time past
``idle_seconds`` since the last turn arrived (ticks carry that wall time), so sessions close when
traffic stops. A session is *due* when the watermark passed ``last + gap``, its turns span
``max_duration``, or an end marker was seen and the watermark passed it (so turns that arrive
out of order within the lateness are still in the first version). Closing scores it and
leaves the entry as a closed marker (its turns kept) until the watermark passes
``last + gap + grace``. A turn for a closed session that belongs to it (``t <= last + gap``;
``t <= last`` after an end marker or the maximum duration) re-opens it: it is scored again,
over every turn, as version N + 1. A turn past that, or after the marker expired, starts a
new session window with the same id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from schemas.session import ClosedBy

Entry = dict[str, Any]


@dataclass(frozen=True)
class Rules:
    gap_seconds: float = 1800.0
    max_duration_seconds: float = 86_400.0
    lateness_seconds: float = 300.0
    grace_seconds: float = 3600.0
    idle_seconds: float = 60.0
    max_turns: int = 100


class Absorbed(StrEnum):
    ADDED = "added"  # a new turn (or a newer version of one)
    REOPENED = "reopened"  # ... of a closed session: it will be scored again
    DUPLICATE = "duplicate"  # a turn already held (a replay): nothing changed
    SPLIT = "split"  # belongs to a new window: close (if open) and replace the entry first


PARTITION_KEY_PREFIX = "\x00partition-"


def partition_key(partition: int) -> str:
    return f"{PARTITION_KEY_PREFIX}{partition}"


def is_partition_key(key: str) -> bool:
    return key.startswith(PARTITION_KEY_PREFIX)


def new_entry(session_id: str, partition: int, turn: dict[str, Any], t: float) -> Entry:
    return {
        "p": partition,
        "sid": session_id,
        "turns": {turn["trace_id"]: turn},
        "first": t,
        "last": t,
        "open": True,
        "version": 0,
        "closed_by": None,
        "ended": bool(turn.get("ends")),
    }


def _belongs_until(entry: Entry, rules: Rules) -> float:
    """Latest trace time that still belongs to a closed session's window."""
    if entry.get("ended") or entry.get("closed_by") == ClosedBy.MAX_DURATION:
        return entry["last"]
    return entry["last"] + rules.gap_seconds


def absorb(
    entry: Entry | None, turn: dict[str, Any], t: float, partition: int, rules: Rules
) -> tuple[Entry | None, Absorbed]:
    """The entry with ``turn`` (trace time ``t``) merged; ``(None, SPLIT)`` when the turn
    starts a new window (the caller closes the open one, then calls again with ``None``)."""
    if entry is None:
        return new_entry(turn["session_id"], partition, turn, t), Absorbed.ADDED
    trace_id = turn["trace_id"]
    held = entry["turns"].get(trace_id)
    if held is not None and held.get("trace_version", 1) >= turn.get("trace_version", 1):
        return entry, Absorbed.DUPLICATE
    if entry["open"]:
        past_gap = t > entry["last"] + rules.gap_seconds or t < entry["first"] - rules.gap_seconds
        too_long = max(t, entry["last"]) - min(t, entry["first"]) > rules.max_duration_seconds
        full = held is None and len(entry["turns"]) >= rules.max_turns
        if past_gap or too_long or full or (entry.get("ended") and t > entry["last"]):
            return None, Absorbed.SPLIT
        return _merged(entry, turn, t), Absorbed.ADDED
    if entry["first"] - rules.gap_seconds <= t <= _belongs_until(entry, rules) and (
        held is not None or len(entry["turns"]) < rules.max_turns
    ):
        merged = _merged(entry, turn, t)
        merged["open"] = True
        return merged, Absorbed.REOPENED
    return None, Absorbed.SPLIT


def _merged(entry: Entry, turn: dict[str, Any], t: float) -> Entry:
    turns = {**entry["turns"], turn["trace_id"]: turn}
    return {
        **entry,
        "turns": turns,
        "first": min(entry["first"], t),
        "last": max(entry["last"], t),
        "ended": bool(entry.get("ended") or turn.get("ends")),
    }


def watermark(partition_state: Entry | None, wall_now: float, rules: Rules) -> float | None:
    """Event time up to which the partition is complete; None before its first turn."""
    if not partition_state:
        return None
    idle = wall_now - partition_state["arrival"] - rules.idle_seconds
    return partition_state["max_event"] - rules.lateness_seconds + max(0.0, idle)


def observe(partition_state: Entry | None, partition: int, t: float, wall_now: float) -> Entry:
    """The partition state after a turn with trace time ``t`` arrived at ``wall_now``."""
    newest = t if not partition_state else max(partition_state["max_event"], t)
    return {"p": partition, "max_event": newest, "arrival": wall_now}


def due(entry: Entry, wm: float | None, rules: Rules) -> ClosedBy | None:
    """Why an open session should close now, or None."""
    if not entry.get("open"):
        return None
    if entry.get("ended") and wm is not None and wm >= entry["last"]:
        return ClosedBy.END_MARKER  # after the lateness: earlier turns out of order are in
    if entry["last"] - entry["first"] >= rules.max_duration_seconds:
        return ClosedBy.MAX_DURATION
    if len(entry["turns"]) >= rules.max_turns:
        return ClosedBy.MAX_TURNS
    if wm is not None and wm >= entry["last"] + rules.gap_seconds:
        return ClosedBy.GAP
    return None


def wake(entry: Entry, rules: Rules) -> float:
    """The lowest watermark at which ``due`` or ``expired`` can be true for ``entry``
    (``-inf``: whatever the watermark, even none): the key of the book's due index."""
    if not entry.get("open"):
        return entry["last"] + rules.gap_seconds + rules.grace_seconds
    if entry["last"] - entry["first"] >= rules.max_duration_seconds:
        return -math.inf
    if len(entry["turns"]) >= rules.max_turns:
        return -math.inf
    if entry.get("ended"):
        return entry["last"]
    return entry["last"] + rules.gap_seconds


def closed(entry: Entry, reason: ClosedBy) -> Entry:
    """The marker left after scoring: turns kept (for a late turn), version counted."""
    return {**entry, "open": False, "version": entry.get("version", 0) + 1, "closed_by": reason}


def expired(entry: Entry, wm: float | None, rules: Rules) -> bool:
    """A closed marker no late turn can re-open any more."""
    if entry.get("open") or wm is None:
        return False
    return wm >= entry["last"] + rules.gap_seconds + rules.grace_seconds


def ordered_turns(entry: Entry) -> list[dict[str, Any]]:
    """Turns in trace-time order (ties by trace id, so every replay orders them alike)."""
    return sorted(entry["turns"].values(), key=lambda turn: (turn["t"], turn["trace_id"]))
