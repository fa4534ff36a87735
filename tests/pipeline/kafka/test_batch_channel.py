"""The channel that hands the worker's agents their records in batches (faust's per-event
path skipped); through the broker it is exercised by every worker test."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from pipeline.kafka.batch_channel import BatchChannel


@dataclass
class Message:
    offset: int
    generation_id: int = 1


async def take_one(channel: BatchChannel, max_: int, within: float) -> list[int]:
    batches = channel.noack_take(max_, within)
    try:
        batch = await asyncio.wait_for(anext(batches), 5)
    finally:
        await batches.aclose()
    return [delivery.message.offset for delivery in batch]


def test_a_full_batch_is_taken_at_once_in_arrival_order() -> None:
    async def run() -> tuple[list[int], list[int], float]:
        channel = BatchChannel(100)
        for offset in range(7):
            assert channel.offer(Message(offset)) is None
        started = asyncio.get_running_loop().time()
        first = await take_one(channel, 5, within=10)
        waited = asyncio.get_running_loop().time() - started
        return first, [d.message.offset for d in channel._buffer], waited

    first, left, waited = asyncio.run(run())
    assert first == [0, 1, 2, 3, 4]
    assert left == [5, 6]
    assert waited < 1  # did not wait for ``within``


def test_a_partial_batch_comes_after_within() -> None:
    async def run() -> tuple[list[int], float]:
        channel = BatchChannel(100)
        channel.offer(Message(0))
        channel.offer(Message(1))
        started = asyncio.get_running_loop().time()
        batch = await take_one(channel, 500, within=0.2)
        return batch, asyncio.get_running_loop().time() - started

    batch, waited = asyncio.run(run())
    assert batch == [0, 1]
    assert 0.15 <= waited < 2


def test_records_arriving_while_the_taker_waits_complete_its_batch() -> None:
    async def run() -> list[int]:
        channel = BatchChannel(100)
        taker = asyncio.ensure_future(take_one(channel, 3, within=10))
        for offset in range(3):
            await asyncio.sleep(0.01)
            channel.offer(Message(offset))
        return await asyncio.wait_for(taker, 2)

    assert asyncio.run(run()) == [0, 1, 2]


def test_a_full_channel_makes_the_fetch_loop_wait_until_a_batch_is_taken() -> None:
    async def run() -> tuple[bool, list[int], list[int]]:
        channel = BatchChannel(2)
        assert channel.offer(Message(0)) is None
        assert channel.offer(Message(1)) is None
        waiting = channel.offer(Message(2))
        assert waiting is not None
        put = asyncio.ensure_future(waiting)
        await asyncio.sleep(0.05)
        done_before_take = put.done()
        first = await take_one(channel, 2, within=1)
        await asyncio.wait_for(put, 2)
        second = await take_one(channel, 2, within=0.1)
        return done_before_take, first, second

    done_before_take, first, second = asyncio.run(run())
    assert not done_before_take
    assert first == [0, 1]
    assert second == [2]


def test_records_of_an_ended_generation_never_reach_the_agent() -> None:
    ended: set[int] = set()

    async def run() -> list[int]:
        channel = BatchChannel(100, live=lambda m: m.generation_id not in ended)
        channel.offer(Message(0, generation_id=1))
        channel.offer(Message(1, generation_id=1))
        ended.add(1)  # a rebalance began after they were buffered
        assert channel.offer(Message(2, generation_id=1)) is None  # dropped on arrival
        channel.offer(Message(0, generation_id=2))  # read again in the next generation
        return await take_one(channel, 500, within=0.1)

    assert asyncio.run(run()) == [0]


def test_clear_forgets_the_buffer_and_frees_room() -> None:
    async def run() -> tuple[int, bool]:
        channel = BatchChannel(1)
        channel.offer(Message(0))
        waiting = channel.offer(Message(1))
        assert waiting is not None
        put = asyncio.ensure_future(waiting)
        await asyncio.sleep(0.01)
        dropped = channel.clear()
        await asyncio.wait_for(put, 2)
        return dropped, len(channel) == 1

    assert asyncio.run(run()) == (1, True)


def test_a_channel_needs_room_for_one_record() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BatchChannel(0)
