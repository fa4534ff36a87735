"""faust's fetch loop without four asyncio tasks per message (issue 20), a faust internal
like those of ``faust_compat`` (and pinned by the same test).

faust's ``Consumer._drain_messages`` hands every fetched message to the streams with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: four tasks (the
callback, the flow, stopped and crashed events) and an ``asyncio.wait`` per message, so that
a rebalance can interrupt a delivery stuck on a full stream buffer. In the worker's profile
that was ~10 % of the CPU, paid twice per trace (input and scored topics).

The replacement runs the callback eagerly, as Python 3.12's eager tasks do: the coroutine is
stepped once in the fetch loop, and nearly always finishes there (the stream buffer has
room). Only when it has to wait is it turned into a task and awaited with faust's own
``wait_first``, exactly as before, so messages are still delivered one at a time, in order,
and a rebalance still interrupts a waiting delivery.

The records of a topic ``divert``-ed to a ``BatchChannel`` (the worker's input and scored
topics) skip faust's delivery altogether: they are appended to the channel, waiting (the
same interruptible way) only when it is full (``pipeline/kafka/batch_channel.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING, Consumer

from pipeline.kafka.batch_channel import DIVERTED

UPSTREAM = Consumer._drain_messages
UPSTREAM_SHA256 = "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
"""sha256 of the source of faust-streaming 0.15.3's ``_drain_messages``, which the copy below
follows: ``tests/pipeline/worker/test_faust_compat.py`` fails when an upgrade changes it."""


def step_eagerly(coro: Coroutine[Any, Any, Any]) -> asyncio.Future[Any] | None:
    """Run ``coro`` up to its first suspension; ``None`` if it finished (its exception, if
    any, is raised here), else a task that runs the rest of it."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, yielded))


async def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Drive a coroutine that suspended on ``yielded`` (a future, or None for a bare yield)
    the way ``asyncio.Task`` does: wait for the future, then send it on; a cancellation of
    this task is thrown into the coroutine."""
    while True:
        try:
            if yielded is None:
                await asyncio.sleep(0)
            else:
                yielded._asyncio_future_blocking = False
                await asyncio.wait((yielded,))
        except BaseException as exc:
            if isinstance(yielded, asyncio.Future) and not yielded.done():
                yielded.cancel()
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover
    """faust-streaming 0.11-0.15's ``Consumer._drain_messages``, delivery made eager."""
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set

    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    diverted = getattr(self.app, DIVERTED, {}).get

    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep

    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0

                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        channel = diverted(message.topic)
                        if channel is not None:  # no faust event, ack or offset gap
                            waiting = channel.offer(message)
                            if waiting is not None:
                                await self.wait_first(waiting, self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                            continue
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if self.suspend_flow.is_set():  # flow stopped: faust's path
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        else:
                            waiting = step_eagerly(callback(message))
                            if waiting is not None:
                                await self.wait_first(waiting, self.suspend_flow.wait())
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
                unset_flag(flag_consumer_fetching)

    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)


def install_eager_delivery() -> None:
    """Replace faust's fetch loop (for every faust consumer of this process); idempotent."""
    cast(Any, Consumer)._drain_messages = _drain_messages
