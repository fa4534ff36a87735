"""The session window rules over an in-memory dict (the faust table's data in the worker):
gap on the watermark, lateness, end marker, max duration, max turns, late turns re-opening a
closed session (version N+1), markers expiring after the grace, a session id coming back
after its state expired, replays changing nothing, the open-session bound, idle partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from pipeline.sessions import window
from pipeline.sessions.book import Changes, SessionBook, tick_message
from pipeline.sessions.turns import session_of, turn_of, unpacked

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RULES = window.Rules(
    gap_seconds=600, max_duration_seconds=3600, lateness_seconds=0, grace_seconds=1200,
    idle_seconds=30, max_turns=5,
)  # fmt: skip
LATE60 = window.Rules(
    gap_seconds=600, max_duration_seconds=3600, lateness_seconds=60, grace_seconds=1200,
    idle_seconds=30, max_turns=5,
)  # fmt: skip


def turn(session: str, trace: str, seconds: float, *, end: bool = False, version: int = 1,
         status: str = "OK") -> bytes:  # fmt: skip
    tags = {"app": "chat", "session_id": session}
    if end:
        tags["session_end"] = "true"
    return orjson.dumps({
        "trace_id": trace, "trace_version": version, "app": "chat", "status": status,
        "timestamp": (T0 + timedelta(seconds=seconds)).isoformat(), "tags": tags,
        "results": [{"evaluator": "error", "score": 1.0, "passed": True}],
        "source": {"topic": "traces", "partition": 0, "offset": 0},
        "scored_at": T0.isoformat(), "body": {"inputs": f"q {trace}", "outputs": f"a {trace}"},
    })  # fmt: skip


class Harness:
    """A book over a dict, fed one message at a time, closing after each (as the stage does)."""

    def __init__(self, rules: window.Rules = RULES, max_open: int = 100) -> None:
        self.data: dict = {}
        self.limits: list[str] = []
        self.book = SessionBook(self.data, rules, max_open=max_open, text_bytes=1000,
                                on_limit=self.limits.append)  # fmt: skip
        self.wall = 1_000_000.0

    def feed(self, *messages: bytes, partition: int = 0, wall_step: float = 1.0) -> Changes:
        changes = Changes()
        for message in messages:
            self.wall += wall_step
            self.book.absorb(partition, message, self.wall, changes)
        self.book.close_due(partition, self.wall, changes)
        return changes

    @staticmethod
    def closed(changes: Changes) -> list[tuple[str, int, int, str]]:
        return [
            (c.session.session_id, c.session.session_version, len(c.session),
             c.session.closed_by.value)
            for c in changes.closings
        ]  # fmt: skip


def test_a_session_closes_when_the_watermark_passes_its_last_turn_plus_the_gap():
    h = Harness(LATE60)
    assert h.closed(h.feed(turn("s", "t1", 0), turn("s", "t2", 100))) == []
    # watermark = newest trace time (other session) - lateness: 100 + 600 + 60 is the edge
    assert h.closed(h.feed(turn("other", "o1", 759))) == []
    changes = h.feed(turn("other", "o2", 760))
    assert h.closed(changes) == [("s", 1, 2, "gap")]
    session = changes.closings[0].session
    assert [t.trace.trace_id for t in session] == ["t1", "t2"]
    assert session[0].result("error").passed is True
    assert h.data["s"]["open"] is False and h.data["s"]["version"] == 1  # marker kept
    assert changes.writes["s"][0] == h.data["s"]  # the changelog gets the marker


def test_turns_are_ordered_by_trace_time_not_arrival():
    h = Harness()
    changes = h.feed(turn("s", "b", 20), turn("s", "a", 10), turn("s", "c", 30, end=True))
    assert [t.trace.trace_id for t in changes.closings[0].session] == ["a", "b", "c"]


def test_an_end_marker_closes_at_once_and_a_late_turn_reopens_it_as_version_two():
    h = Harness()
    assert h.closed(h.feed(turn("s", "t1", 0), turn("s", "t2", 60, end=True))) == [
        ("s", 1, 2, "end_marker")
    ]
    changes = h.feed(turn("s", "late", 30))  # its time lies inside the closed session
    assert h.closed(changes) == [("s", 2, 3, "end_marker")]
    assert [t.trace.trace_id for t in changes.closings[0].session] == ["t1", "late", "t2"]
    assert changes.closings[0].reopened
    # a turn after the end marker's time is a new conversation with the same id
    changes = h.feed(turn("s", "next", 120))
    assert h.closed(changes) == [] and h.data["s"]["version"] == 0
    assert list(h.data["s"]["turns"]) == ["next"]


def test_a_late_turn_after_a_gap_close_reopens_within_the_grace_only():
    h = Harness(LATE60)
    h.feed(turn("s", "t1", 0), turn("s", "t2", 100))
    assert h.closed(h.feed(turn("x", "x1", 800))) == [("s", 1, 2, "gap")]
    # late (its time is behind the watermark) and inside "s": version 2 at once
    assert h.closed(h.feed(turn("s", "t3", 50))) == [("s", 2, 3, "gap")]
    # the watermark passes last + gap + grace: the marker is forgotten (a changelog delete)
    h.feed(turn("x", "x2", 100 + 600 + 1200 + 59))
    assert "s" in h.data
    changes = h.feed(turn("x", "x3", 100 + 600 + 1200 + 60))
    assert "s" not in h.data and changes.writes["s"] == (None, 0)
    # now a very late turn starts a session of its own (scored at once: it is behind the
    # watermark), a new window: first trace time 160 s, not 0
    changes = h.feed(turn("s", "t4", 160))
    assert h.closed(changes) == [("s", 1, 1, "gap")]
    assert changes.closings[0].first == (T0 + timedelta(seconds=160)).timestamp()


def test_a_turn_past_the_gap_in_event_time_splits_the_session():
    h = Harness(window.Rules(gap_seconds=600, lateness_seconds=10_000))  # watermark far behind
    h.feed(turn("s", "t1", 0))
    changes = h.feed(turn("s", "t2", 601))
    assert h.closed(changes) == [("s", 1, 1, "gap")]
    assert list(h.data["s"]["turns"]) == ["t2"] and h.data["s"]["open"]


def test_max_duration_and_max_turns_close_a_session_and_the_turn_bound_is_counted():
    h = Harness(window.Rules(max_duration_seconds=3600, lateness_seconds=10_000))
    changes = h.feed(*(turn("s", f"t{i}", 500 * i) for i in range(9)))
    assert ("s", 1, 8, "max_duration") in h.closed(changes)  # 0..3500 s, then 4000 splits
    h = Harness()
    changes = h.feed(*(turn("s", f"t{i}", i) for i in range(5)))
    assert h.closed(changes) == [("s", 1, 5, "max_turns")]
    assert h.limits == ["turns"]


def test_replayed_turns_change_nothing_and_a_newer_trace_version_replaces_its_turn():
    h = Harness()
    first = h.feed(turn("s", "t1", 0), turn("s", "t2", 10))
    again = h.feed(turn("s", "t1", 0), turn("s", "t2", 10))
    assert "s" not in again.writes and h.closed(again) == []
    assert set(first.writes) == {"s", window.partition_key(0)}
    h.feed(turn("s", "t2", 10, version=2, status="ERROR"))
    assert unpacked(h.data["s"]["turns"]["t2"])["trace"]["status"] == "ERROR"
    assert len(h.data["s"]["turns"]) == 2


def test_the_open_session_bound_drops_markers_first_then_closes_the_oldest_early():
    h = Harness(max_open=2)
    h.feed(turn("a", "a1", 0, end=True))  # closed: a marker
    h.feed(turn("b", "b1", 10))
    h.feed(turn("c", "c1", 20))  # bound hit: the marker "a" goes, nothing scored
    assert {k for k, _ in h.book.sessions()} == {"b", "c"}
    changes = h.feed(turn("d", "d1", 30))  # bound hit again: "b" (oldest) closes early
    assert h.closed(changes) == [("b", 1, 1, "evicted")]
    assert {k for k, _ in h.book.sessions()} == {"c", "d"}
    assert h.limits == ["open_sessions", "open_sessions"]


def test_an_idle_partition_lets_its_watermark_follow_the_wall_clock():
    h = Harness(LATE60)
    h.feed(turn("s", "t1", 0))
    assert h.closed(h.feed(tick_message(h.wall), wall_step=600 + 60 - 1 + 30)) == []
    assert h.closed(h.feed(tick_message(h.wall), wall_step=2)) == [("s", 1, 1, "gap")]


def test_an_end_marker_waits_for_the_lateness_so_an_earlier_turn_out_of_order_is_in():
    h = Harness(LATE60)
    assert h.closed(h.feed(turn("s", "t2", 30, end=True))) == []  # t1 may still be on its way
    assert h.closed(h.feed(turn("s", "t1", 0))) == []
    changes = h.feed(turn("x", "x1", 90))  # the watermark passes the end marker's time
    assert h.closed(changes) == [("s", 1, 2, "end_marker")]


def test_partitions_keep_their_own_watermark():
    h = Harness()
    h.feed(turn("s", "t1", 0), partition=0)
    assert h.closed(h.feed(turn("x", "x1", 10_000), partition=1)) == []
    assert h.data["s"]["open"]


def test_a_message_that_is_not_a_turn_raises_for_the_dead_letter_path():
    h = Harness()
    with pytest.raises(ValueError):
        h.book.absorb(0, b"[1, 2]", h.wall, Changes())
    with pytest.raises(orjson.JSONDecodeError):
        h.book.absorb(0, b"{nope", h.wall, Changes())


def test_an_aborted_step_is_undone_so_its_messages_read_again_close_the_session_again():
    h = Harness()
    h.feed(turn("s", "t1", 0))
    h.book.journal = {}
    changes = h.feed(turn("s", "t2", 10, end=True))  # closed and scored ...
    journal, h.book.journal = h.book.journal, None
    assert h.closed(changes) == [("s", 1, 2, "end_marker")]
    h.book.undo([journal])  # ... but its transaction was aborted
    assert h.data["s"]["open"] and list(h.data["s"]["turns"]) == ["t1"]
    assert h.closed(h.feed(turn("s", "t2", 10, end=True))) == [("s", 1, 2, "end_marker")]


def test_standby_copies_of_other_partitions_are_never_evicted():
    h = Harness(max_open=1)
    h.book.owned = lambda: {0}
    h.data["other"] = window.new_entry("other", 1, orjson.loads(b'{"trace_id": "x"}'), 0.0)
    h.feed(turn("s", "t1", 0))  # partition 0 holds one session: within the bound
    assert "other" in h.data and h.limits == []


def test_a_turn_is_held_compressed_and_turns_held_by_earlier_versions_still_close():
    """The table keeps the window's fields beside one compressed JSON document (base64: the
    changelog is JSON); a changelog written before, with the document as a JSON string
    (``packed``) or with ``trace`` and ``results`` inline, restores into entries that close
    the same way."""
    held = turn_of(orjson.loads(turn("s", "t1", 0, status="ERROR")), 1000)
    assert set(held) == {"session_id", "trace_id", "trace_version", "t", "ends", "zpacked"}
    document = unpacked(held)
    assert set(document) == {"trace", "results"}
    assert len(held["zpacked"]) < len(orjson.dumps(document))
    assert orjson.loads(orjson.dumps(held)) == held  # JSON as it is: the changelog's format
    window_fields = {key: value for key, value in held.items() if key != "zpacked"}
    packed = window_fields | {"packed": orjson.dumps(document).decode()}
    inline = window_fields | document
    entry = {"sid": "s", "version": 0}
    for form in (held, packed, inline):
        (closing,) = session_of(entry, [form], window.ClosedBy.GAP).turns
        assert closing.trace.trace_id == "t1" and closing.trace.status.value == "ERROR"
        assert closing.trace.inputs == "q t1" and closing.result("error").passed is True
