"""The hand-over of ``pipeline/worker/parquet_memory.py``: which committed scored record comes
from memory and which from the topic read, so each is added exactly once."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from pipeline.worker.parquet_memory import MemoryFeed


def _delivered(offset: int) -> asyncio.Future:
    future = asyncio.get_event_loop_policy().new_event_loop().create_future()
    future.set_result(SimpleNamespace(offset=offset))
    return future


def _send(feed: MemoryFeed, partition: int, offset: int, trace: str) -> None:
    delivery = feed.sent(partition, b"{}", {"trace_id": trace})
    delivery.append(_delivered(offset))


def test_rows_wait_for_the_topic_read_below_the_hand_over_offset():
    feed = MemoryFeed()
    feed.start_generation({0: 10}, {0: 4})  # C_0 = 4 < E_0 = 10: records 4..9 to recover
    _send(feed, 0, 10, "own-a")
    _send(feed, 0, 11, "own-b")
    feed.committed({0})
    assert feed.ready == [] and feed.pending == 2  # held: the read below 10 is not done
    assert feed.from_topic(0, 4) and feed.from_topic(0, 9)  # recovered from the topic
    assert not feed.from_topic(0, 10)  # our own: dropped, partition caught up
    assert [row[1] for row in feed.take_ready()] == [10, 11]
    assert not feed.from_topic(0, 11)  # anything later read back: dropped too
    _send(feed, 0, 13, "own-c")
    feed.committed({0})
    assert [(p, o, m["trace_id"]) for p, o, m in feed.take_ready()] == [(0, 13, "own-c")]


def test_a_partition_committed_at_its_end_is_caught_up_at_once():
    feed = MemoryFeed()
    feed.start_generation({1: 7}, {1: 7})
    _send(feed, 1, 7, "t")
    feed.committed({1})
    assert [row[1] for row in feed.take_ready()] == [7]


def test_only_the_committed_partitions_rows_move():
    feed = MemoryFeed()
    feed.start_generation({0: 0, 1: 0}, {0: 0, 1: 0})
    _send(feed, 0, 0, "a")
    _send(feed, 1, 0, "b")
    feed.committed({1})
    assert [row[2]["trace_id"] for row in feed.take_ready()] == ["b"]
    assert len(feed.sent_rows) == 1
    feed.committed({0})
    assert [row[2]["trace_id"] for row in feed.take_ready()] == ["a"]


def test_a_row_committed_below_the_end_offset_is_left_to_the_topic_read():
    """Sent in this generation before the ends were asked for, and committed by then: it lies
    below E_p, and the topic read adds it (memory must not add it a second time)."""
    feed = MemoryFeed()
    _send(feed, 0, 5, "early")
    feed.committed({0})  # no boundary yet: held
    _send(feed, 0, 8, "later")
    feed.start_generation({0: 7}, {0: 5})
    feed.committed({0})
    assert feed.from_topic(0, 5)  # the early one comes from the topic
    assert not feed.from_topic(0, 8)
    assert [row[2]["trace_id"] for row in feed.take_ready()] == ["later"]


def test_reset_forgets_everything_not_handed_to_the_stage():
    feed = MemoryFeed()
    feed.start_generation({0: 0}, {0: 0})
    _send(feed, 0, 0, "a")
    feed.committed({0})
    _send(feed, 0, 1, "b")
    feed.reset()
    assert (feed.pending, feed.sent_rows, feed.boundary, feed.caught_up) == (0, [], {}, set())


def test_a_message_cut_to_fit_is_decoded_from_its_bytes():
    feed = MemoryFeed()
    feed.start_generation({0: 0}, {0: 0})
    delivery = feed.sent(0, b'{"trace_id": "cut"}', None)
    delivery.append(_delivered(3))
    feed.committed({0})
    assert feed.take_ready() == [(0, 3, {"trace_id": "cut"})]


def test_reset_leaves_no_stale_wakeup():
    """A wake-up left set with nothing ready made the memory loop spin (seen in the benchmark:
    half the rate after the first rebalance)."""
    feed = MemoryFeed()
    feed.start_generation({0: 0}, {0: 0})
    _send(feed, 0, 0, "a")
    feed.committed({0})
    assert feed.wakeup.is_set()
    feed.reset()
    assert not feed.wakeup.is_set()
