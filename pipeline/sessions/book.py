"""The session stage's decisions over a key -> entry mapping (the faust table's data, or a dict).

``SessionBook.absorb`` takes one message of the session-turns topic (a scored trace, or a tick
carrying the wall time) and ``close_due`` then closes what the partition's watermark allows.
Both return what changed: the entries to write to the changelog (``None`` deletes) and the
sessions closed (to score). The stage sends all of it in the source partition's transaction;
this module decides, so the window rules run the same in a unit test and in the worker.

Memory is bounded: at most ``max_open`` entries on the partitions this worker owns (a new
session past it drops the oldest closed marker, else closes the oldest open session early,
``ClosedBy.EVICTED``) and ``Rules.max_turns`` turns per session; ``on_limit`` is told each
time (a Prometheus counter in the worker). Standby copies of other workers' partitions are
never evicted or closed here.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.sessions import window
from pipeline.sessions.due_index import DueIndex
from pipeline.sessions.scoring import Closing
from pipeline.sessions.turns import session_of, turn_of
from schemas.session import ClosedBy

TICK_KEY = b"\x00tick"
_MISSING = object()


@dataclass
class Changes:
    """What one step changed: changelog writes per key (entry or None, partition), closings."""

    writes: dict[str, tuple[dict[str, Any] | None, int]] = field(default_factory=dict)
    closings: list[Closing] = field(default_factory=list)

    def put(self, key: str, entry: dict[str, Any] | None, partition: int) -> None:
        self.writes[key] = (entry, partition)


def _last(item: tuple[str, dict[str, Any]]) -> float:
    return item[1]["last"]


def tick_message(wall_now: float) -> bytes:
    return orjson.dumps({"tick": wall_now})


class SessionBook:
    def __init__(
        self,
        data: MutableMapping[str, Any],
        rules: window.Rules,
        *,
        max_open: int,
        text_bytes: int,
        on_limit: Callable[[str], None] = lambda limit: None,
        owned: Callable[[], set[int] | None] = lambda: None,
    ) -> None:
        self.data = data
        self.owned = owned  # partitions this worker owns (None: all); the rest are standbys
        self.journal: dict[str, Any] | None = None
        self.rules = rules
        self.max_open = max_open
        self.text_bytes = text_bytes
        self.on_limit = on_limit
        self.due_index = DueIndex(data, rules, owned)
        # new sessions that fit under max_open without a scan, as the last scan counted, for
        # the owned partitions it counted (see _make_room)
        self._spare = 0
        self._spare_owned: set[int] | None = None

    def sessions(self, partitions: Iterable[int] | None = None) -> list[tuple[str, Any]]:
        # one pass, the prefix test inlined: a call per entry was a third of this scan's cost
        # (it runs over every entry, up to max_open of them; issue 20)
        prefix = window.PARTITION_KEY_PREFIX
        items = self.data.items()
        if partitions is None:
            return [(key, entry) for key, entry in items if not key.startswith(prefix)]
        wanted = set(partitions)
        return [
            (key, entry)
            for key, entry in items
            if entry["p"] in wanted and not key.startswith(prefix)
        ]

    def open_count(self, partitions: Iterable[int] | None = None) -> int:
        return sum(1 for _, entry in self.sessions(partitions) if entry.get("open"))

    def absorb(self, partition: int, value: bytes, wall_now: float, changes: Changes) -> None:
        """Merge one session-turns message. Raises ``ValueError`` on bytes that are not one."""
        message = orjson.loads(value)
        if not isinstance(message, dict):
            raise ValueError("a session-turns message must be a JSON object")
        if "tick" in message:
            return  # a tick only makes the stage run close_due on an idle partition
        turn = turn_of(message, self.text_bytes)
        if turn is None:
            return
        pkey = window.partition_key(partition)
        state = window.observe(self.data.get(pkey), partition, turn["t"], wall_now)
        self._set(pkey, state, partition, changes)
        sid, t = turn["session_id"], turn["t"]
        entry = self.data.get(sid)
        updated, how = window.absorb(entry, turn, t, partition, self.rules)
        if how is window.Absorbed.DUPLICATE:
            return
        if how is window.Absorbed.SPLIT:
            if entry is not None and entry.get("open"):
                self._close(sid, entry, self._split_reason(entry, t), changes, keep=False)
            self._forget(sid)  # no changelog write: the new entry below replaces it
            entry = None
            updated, how = window.absorb(None, turn, t, partition, self.rules)
        if entry is None:
            self._make_room(sid, changes)
        assert updated is not None
        self._set(sid, updated, partition, changes)

    def close_due(self, partition: int, wall_now: float, changes: Changes) -> None:
        """Close the sessions of ``partition`` the watermark (or their own bound) allows and
        forget the markers past their grace."""
        wm = window.watermark(self.data.get(window.partition_key(partition)), wall_now, self.rules)
        for key in self.due_index.reached(partition, wm):
            self._settle(key, self.data[key], wm, partition, changes)

    def _settle(
        self, key: str, entry: dict[str, Any], wm: float | None, partition: int, changes: Changes
    ) -> None:
        """Close ``entry`` if it is due at watermark ``wm``, forget it if it expired."""
        reason = window.due(entry, wm, self.rules)
        if reason is not None:
            if reason is ClosedBy.MAX_TURNS:
                self.on_limit("turns")
            self._close(key, entry, reason, changes, keep=True)
        elif window.expired(entry, wm, self.rules):
            self._forget(key)
            changes.put(key, None, partition)

    def _split_reason(self, entry: dict[str, Any], t: float) -> ClosedBy:
        if len(entry["turns"]) >= self.rules.max_turns:
            self.on_limit("turns")
            return ClosedBy.MAX_TURNS
        if entry.get("ended"):
            return ClosedBy.END_MARKER
        if max(t, entry["last"]) - min(t, entry["first"]) > self.rules.max_duration_seconds:
            return ClosedBy.MAX_DURATION
        return ClosedBy.GAP

    def _make_room(self, new_key: str, changes: Changes) -> None:
        """Before a new session: past ``max_open``, drop the oldest closed marker, else close
        the session with the oldest last turn early."""
        self._spare -= 1  # the new session takes one of the places the last scan counted
        if len(self.data) < self.max_open:  # every entry counted: a cheap upper bound
            return
        owned = self.owned()
        if self._spare >= 0 and owned is not None and owned == self._spare_owned:
            # Only this book adds sessions to the partitions it owns (faust restores them
            # when they are assigned, which changes ``owned``; an undo resets the count), so
            # the last scan's count still bounds them. Without it, every new session past
            # len(data) >= max_open scanned all entries while the owned ones were under the
            # bound: the partitions' own keys and standby copies count in len(data).
            return
        entries = self.sessions(owned)
        if len(entries) < self.max_open:
            self._spare, self._spare_owned = self.max_open - len(entries) - 1, owned
            return
        self.on_limit("open_sessions")
        # Make room for a few at once (1%): the scan is O(sessions), not to be paid per turn.
        room = len(entries) - self.max_open + max(1, self.max_open // 100)
        markers, opened = [], []
        for item in entries:
            if item[0] != new_key:
                (opened if item[1].get("open") else markers).append(item)
        # the oldest closed markers, then the oldest open sessions: nsmallest is sorted()[:n]
        # (stable too) in O(n log room) instead of two sorts of every entry (issue 20)
        chosen = heapq.nsmallest(room, markers, key=_last)
        if len(chosen) < room:
            chosen += heapq.nsmallest(room - len(chosen), opened, key=_last)
        for key, entry in chosen:
            if entry.get("open"):
                self._close(key, entry, ClosedBy.EVICTED, changes, keep=False)
            self._forget(key)
            changes.put(key, None, entry["p"])
        self._spare = self.max_open - (len(entries) - len(chosen)) - 1
        self._spare_owned = owned

    def _close(
        self, key: str, entry: dict[str, Any], reason: ClosedBy, changes: Changes, keep: bool
    ) -> None:
        turns = window.ordered_turns(entry)
        session = session_of(entry, turns, reason)
        changes.closings.append(Closing(session, entry["first"], entry["last"], entry["p"]))
        if keep:
            self._set(key, window.closed(entry, reason), entry["p"], changes)

    def _set(self, key: str, entry: dict[str, Any], partition: int, changes: Changes) -> None:
        self._remember(key)
        self.data[key] = entry
        if not window.is_partition_key(key):
            self.due_index.push(key, entry)
        changes.put(key, entry, partition)

    # The journal: what each key held before this step changed it, so a step whose sends are
    # rolled back (its transaction aborted) can be undone in memory too (``undo``).
    def _remember(self, key: str) -> None:
        if self.journal is not None and key not in self.journal:
            self.journal[key] = self.data.get(key, _MISSING)

    def _forget(self, key: str) -> None:
        self._remember(key)
        self.data.pop(key, None)

    def undo(self, journals: list[dict[str, Any]]) -> None:
        """Put back what the journaled steps changed, newest step first."""
        self._spare = 0  # sessions it puts back were not counted: the next one scans
        for journal in reversed(journals):
            for key, before in journal.items():
                if before is _MISSING:
                    self.data.pop(key, None)
                else:
                    self.data[key] = before
                    if not window.is_partition_key(key):
                        self.due_index.push(key, before)
