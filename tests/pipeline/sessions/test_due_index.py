"""The due index picks exactly what a scan of every entry would close or forget.

A book with the index and a book whose ``close_due`` scans every entry (the code before the
index) get the same random turns, ticks, aborted steps and entries written behind the book's
back (as faust's changelog recovery does); after every step both must hold the same entries
and have closed the same sessions."""

from __future__ import annotations

import random

import pytest
from test_window import RULES, turn

from pipeline.sessions import window
from pipeline.sessions.book import Changes, SessionBook, tick_message
from pipeline.sessions.due_index import DueIndex
from schemas.session import ClosedBy


class ScanningBook(SessionBook):
    """``close_due`` as it was: every entry of the partition, each step."""

    def close_due(self, partition: int, wall_now: float, changes: Changes) -> None:
        wm = window.watermark(self.data.get(window.partition_key(partition)), wall_now, self.rules)
        for key, entry in self.sessions([partition]):
            self._settle(key, entry, wm, partition, changes)


def _closings(changes: Changes) -> list[tuple[str, int, str]]:
    return sorted(
        (c.session.session_id, c.session.session_version, c.session.closed_by.value)
        for c in changes.closings
    )


@pytest.mark.parametrize("seed", range(12))
def test_the_index_closes_exactly_what_a_full_scan_closes(seed: int) -> None:
    rng = random.Random(seed)
    books = [
        SessionBook({}, RULES, max_open=40, text_bytes=1000),
        ScanningBook({}, RULES, max_open=40, text_bytes=1000),
    ]
    wall, clock, closed = 1_000_000.0, 0.0, 0
    for index in books:
        if isinstance(index.due_index, DueIndex):
            index.due_index.clock = lambda: clock  # the backstop rebuild only when told
    for step in range(400):
        partition = rng.randrange(3)
        wall += rng.choice([0.5, 5.0, 40.0])
        messages = []
        for _ in range(rng.randint(0, 4)):
            seconds = step * 20 + rng.uniform(-300, 300)
            if rng.random() < 0.01:  # a jump: sessions close and expire in one step
                seconds += 4000
            session, trace = f"s{rng.randrange(60)}", f"t{rng.randrange(10_000)}"
            messages.append(turn(session, trace, seconds, end=rng.random() < 0.1))
        if rng.random() < 0.2:
            messages.append(tick_message(wall))
        abort = rng.random() < 0.1
        results = []
        for book in books:
            changes = Changes()
            book.journal = {}
            for message in messages:
                book.absorb(partition, message, wall, changes)
            book.close_due(partition, wall, changes)
            journal, book.journal = book.journal, None
            if abort:  # the step's transaction was aborted: undone in memory
                book.undo([journal])
            results.append(_closings(changes))
        assert results[0] == results[1], f"step {step}"
        closed += len(results[0])
        if rng.random() < 0.05:  # restored from the changelog, behind the book's back
            key = f"s{rng.randrange(60)}"
            entry = books[1].data.get(key)
            if entry is not None:
                moved = {**entry, "last": entry["last"] - 900}
                for book in books:
                    book.data[key] = moved
                clock += 31.0  # ... which the index sees at its next rebuild
        assert books[0].data == books[1].data, f"step {step}"
    assert closed > 20  # the walk did close sessions, by several reasons


def test_a_close_step_touches_only_what_is_due() -> None:
    data: dict = {}
    book = SessionBook(data, RULES, max_open=10_000, text_bytes=1000)
    for i in range(2000):
        book.absorb(0, turn(f"s{i}", f"t{i}", i * 0.1), 1_000_000.0, Changes())
    book.close_due(0, 1_000_000.0, Changes())  # the first call builds the index
    looked: list[str] = []
    reached = book.due_index.reached
    book.due_index.reached = lambda p, wm: (looked.append(k) or k for k in reached(p, wm))
    changes = Changes()
    book.absorb(0, turn("new", "t-new", 600.15), 1_000_001.0, changes)  # the watermark moves
    book.close_due(0, 1_000_001.0, changes)
    assert [c.session.session_id for c in changes.closings] == ["s0", "s1"]  # last + gap <= wm
    assert looked == ["s0", "s1"]  # not the 1,999 others


class SortingBook(SessionBook):
    """``_make_room`` as it was: two full sorts of every entry."""

    def _make_room(self, new_key: str, changes: Changes) -> None:
        if len(self.data) < self.max_open:
            return
        entries = self.sessions(self.owned())
        if len(entries) < self.max_open:
            return
        self.on_limit("open_sessions")
        room = len(entries) - self.max_open + max(1, self.max_open // 100)
        candidates = [(k, e) for k, e in entries if k != new_key]
        markers = sorted(
            (i for i in candidates if not i[1].get("open")), key=lambda i: i[1]["last"]
        )
        opened = sorted((i for i in candidates if i[1].get("open")), key=lambda i: i[1]["last"])
        for key, entry in (markers + opened)[:room]:
            if entry.get("open"):
                self._close(key, entry, ClosedBy.EVICTED, changes, keep=False)
            self._forget(key)
            changes.put(key, None, entry["p"])


@pytest.mark.parametrize("owned", [{0, 1}, {0, 1, 2}])
@pytest.mark.parametrize("seed", range(6))
def test_the_open_session_bound_evicts_exactly_what_sorting_every_entry_did(
    seed: int, owned: set[int]
) -> None:
    """Many sessions past ``max_open``, trace times with ties (whole seconds), markers and
    open sessions mixed, two or all three partitions owned: the same evictions, in the same
    order, as ``_make_room`` did before issue 20's change (two sorts of every entry, a scan
    for every new session once the table held ``max_open`` entries)."""
    rng = random.Random(seed)
    hits: list[str] = []
    books = [
        SessionBook(
            {}, RULES, max_open=500, text_bytes=1000, owned=lambda: owned, on_limit=hits.append
        )
    ]
    books.append(SortingBook({}, RULES, max_open=500, text_bytes=1000, owned=lambda: owned))
    wall, evicted = 1_000_000.0, 0
    for step in range(250):
        wall += 1.0
        messages = [
            (rng.randrange(3), turn(f"s{rng.randrange(3_000)}", f"t{step}-{i}",
                                    float(rng.randrange(200)), end=rng.random() < 0.05))
            for i in range(rng.randint(1, 12))
        ]  # fmt: skip
        outcomes = []
        for book in books:
            changes = Changes()
            for partition, message in messages:
                book.absorb(partition, message, wall, changes)
            for partition in range(3):
                book.close_due(partition, wall, changes)
            outcomes.append((list(changes.writes.items()), _closings(changes)))
        assert outcomes[0] == outcomes[1], step
        assert books[0].data == books[1].data
        evicted += sum(1 for c in outcomes[0][1] if c[2] == "evicted")
    # the bound was reached again and again, and open sessions were closed early too
    assert hits.count("open_sessions") > 5 and evicted > 0
