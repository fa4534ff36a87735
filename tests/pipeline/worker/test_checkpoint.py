"""Checkpoint: durable and committed offsets only move forwards, and the commit runs its
steps in order (sinks flushed, sends awaited, offsets committed, recorded)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pipeline.exceptions import CheckpointError
from pipeline.worker.checkpoint import NOT_COMMITTED, Checkpoint

A, B, C = "topic-0", "topic-1", "other-0"


class RecordingCommitter:
    """An in-memory stand-in for Kafka: remembers what it was asked to commit."""

    def __init__(self, steps: list[str], refuse: set[Any] = frozenset()) -> None:
        self.steps = steps
        self.refuse = refuse
        self.calls: list[dict[Any, int]] = []

    async def commit(self, offsets: dict[Any, int]) -> dict[Any, int]:
        self.steps.append("commit")
        self.calls.append(dict(offsets))
        return {tp: o for tp, o in offsets.items() if tp not in self.refuse}


def make(assigned=(A, B), refuse=frozenset(), fail_sends=False):
    steps: list[str] = []
    committer = RecordingCommitter(steps, set(refuse))

    async def wait_for_sends() -> None:
        steps.append("sends")
        if fail_sends:
            raise RuntimeError("a send failed")

    checkpoint = Checkpoint(
        committer,
        flush_sinks=lambda: steps.append("sinks"),
        wait_for_sends=wait_for_sends,
        assignment=lambda: set(assigned),
        after_commit=lambda offsets: steps.append(f"after {sorted(offsets.items())}"),
    )
    return checkpoint, committer, steps


def commit(checkpoint: Checkpoint) -> dict[Any, int]:
    return asyncio.run(checkpoint.commit())


def test_commit_runs_the_numbered_steps_in_order():
    checkpoint, _, steps = make()
    checkpoint.mark_durable({A: 5, B: 2})
    assert commit(checkpoint) == {A: 5, B: 2}
    assert steps == ["sinks", "sends", "commit", "after [('topic-0', 5), ('topic-1', 2)]"]
    assert checkpoint.committed == {A: 5, B: 2} and checkpoint.uncommitted() == {}


def test_durable_offsets_never_move_back():
    checkpoint, _, _ = make()
    checkpoint.mark_durable({A: 10})
    checkpoint.mark_durable({A: 4})  # a redelivered batch
    assert checkpoint.durable[A] == 10


def test_only_assigned_partitions_past_their_commit_are_committed():
    checkpoint, committer, _ = make(assigned=(A,))
    checkpoint.mark_durable({A: 3, C: 9})
    commit(checkpoint)
    checkpoint.mark_durable({A: 3})
    assert commit(checkpoint) == {} and committer.calls == [{A: 3}]


def test_a_failed_send_commits_nothing():
    checkpoint, committer, steps = make(fail_sends=True)
    checkpoint.mark_durable({A: 5})
    with pytest.raises(RuntimeError):
        commit(checkpoint)
    assert committer.calls == [] and checkpoint.committed == {} and steps == ["sinks", "sends"]


def test_offsets_the_committer_left_out_stay_uncommitted():
    checkpoint, _, _ = make(refuse={B})  # e.g. no transaction producer for B yet
    checkpoint.mark_durable({A: 5, B: 2})
    assert commit(checkpoint) == {A: 5}
    assert checkpoint.uncommitted() == {B: 2}


def test_recording_a_non_increasing_commit_is_refused():
    checkpoint, _, _ = make()
    checkpoint.record_committed({A: 7})
    with pytest.raises(CheckpointError, match="not past 7"):
        checkpoint.record_committed({A: 7})
    with pytest.raises(CheckpointError):
        checkpoint.record_committed({A: 3})
    assert checkpoint.committed == {A: 7}


def test_start_pins_a_never_committed_partition_at_its_first_offset():
    checkpoint, committer, _ = make()
    checkpoint.start(A, None, 40)
    checkpoint.start(B, 12, 0)
    assert checkpoint.committed == {A: NOT_COMMITTED, B: 12}
    assert checkpoint.uncommitted() == {A: 40}  # committed next, so faust re-reads from 40
    commit(checkpoint)
    assert committer.calls == [{A: 40}]


def test_rewind_forgets_what_was_not_committed():
    checkpoint, _, _ = make()
    checkpoint.mark_durable({A: 5})
    commit(checkpoint)
    checkpoint.mark_durable({A: 9})
    checkpoint.rewind()
    assert checkpoint.durable == {A: 5} and checkpoint.uncommitted() == {}


def test_a_record_handed_out_again_in_the_same_generation_is_a_copy():
    """faust hands out what it fetched between resuming a partition and seeking it back to
    its committed offset twice; the second copy must not be scored (sent) again."""
    checkpoint, _, _ = make()
    assert [checkpoint.first_delivery(A, o, 3) for o in (0, 1, 2)] == [True, True, True]
    # the copy after faust's seek to the committed offset, then records not seen yet
    assert [checkpoint.first_delivery(A, o, 3) for o in (0, 1, 2, 3)] == [False] * 3 + [True]
    assert checkpoint.first_delivery(B, 0, 3)  # each partition on its own
    # a new generation (after a rebalance, possibly a rollback) reads back from the commit
    assert checkpoint.first_delivery(A, 0, 4) and checkpoint.first_delivery(A, 1, 4)
    # a straggler of the old generation is not taken for a copy, nor makes the new one a copy
    assert checkpoint.first_delivery(A, 3, 3) and checkpoint.first_delivery(A, 2, 4)
