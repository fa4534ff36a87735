"""The generation guard: a batch taken before a rebalance began never takes effect after it
(``pipeline/kafka/generation.py``). Through the real broker: the worker-group and session
rebalance tests."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from pipeline.kafka.generation import GenerationGuard


class App:
    """The two things of a faust App the guard reads, and faust's own rebalance start."""

    def __init__(self) -> None:
        self.consumer_generation_id = 0
        self.rebalancing = False

    def on_rebalance_start(self) -> None:
        self.rebalancing = True


class Stream:
    def __init__(self) -> None:
        self.acked: list = []

    async def ack(self, event) -> None:
        self.acked.append(event)


def event(offset: int, generation: int):
    return SimpleNamespace(message=SimpleNamespace(offset=offset, generation_id=generation))


def test_events_of_a_generation_are_live_until_the_next_rebalance_starts():
    app = App()
    guard = GenerationGuard(app)
    app.consumer_generation_id = 1  # the first assignment
    taken = [event(0, 1), event(1, 1)]
    assert all(map(guard.live, taken))
    app.on_rebalance_start()  # faust's listener: before any revocation handler runs
    assert app.rebalancing  # faust's own start still runs
    assert not any(map(guard.live, taken))
    app.consumer_generation_id = 2  # the next assignment: its events are live
    assert guard.live(event(0, 2)) and not guard.live(event(2, 1))


def test_keep_live_acks_and_drops_what_an_ended_generation_fetched():
    app = App()
    guard = GenerationGuard(app)
    app.consumer_generation_id = 3
    old = [event(10, 3), event(11, 3)]
    app.on_rebalance_start()
    app.consumer_generation_id = 4
    new = [event(10, 4)]
    stream = Stream()
    kept = asyncio.run(guard.keep_live(stream, old + new, "record"))
    assert kept == new
    assert stream.acked == old


def test_a_batch_ends_whole_once_its_generation_has_ended():
    app = App()
    guard = GenerationGuard(app)
    app.consumer_generation_id = 5
    batch = [event(0, 5), event(1, 5)]
    stream = Stream()
    assert not asyncio.run(guard.batch_ended(stream, batch, "record")) and not stream.acked
    app.on_rebalance_start()
    assert asyncio.run(guard.batch_ended(stream, batch, "record"))
    assert stream.acked == batch
