"""faust_compat is pinned to the faust-streaming versions it was written for, and every
internal it touches still exists in the installed faust."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import faust
from faust.transport.consumer import Consumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Producer
from packaging.specifiers import SpecifierSet

from pipeline.worker import faust_compat

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_supported_range_is_pyprojects_and_holds_the_installed_version():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (spec,) = [d.removeprefix("faust-streaming") for d in dependencies if d.startswith("faust-")]
    assert SpecifierSet(spec) == SpecifierSet(faust_compat.SUPPORTED_FAUST)
    assert faust_compat.installed_faust_version() in SpecifierSet(faust_compat.SUPPORTED_FAUST)


def test_the_internals_used_still_exist():
    assert inspect.iscoroutinefunction(Consumer._commit)
    init = inspect.getsource(Consumer.__init__)
    assert all(name in init for name in ("self._acked", "self._acked_index", "self._gap"))
    assert "_transaction_producers" in inspect.getsource(Producer)
    assert callable(Producer._ensure_producer)
    assert callable(Producer.commit_transactions) and callable(Producer.abort_transaction)
    for name in ("_on_sigterm", "_on_sigint", "_schedule_shutdown", "add_future"):
        assert callable(getattr(faust.Worker, name)), name
    assert "stream_wait_empty" in dir(faust.App("compat-probe").conf)
    assert callable(AIOKafkaConsumerThread._ensure_consumer)
    assert callable(AIOKafkaConsumerThread.call_thread)
    # replaced or wrapped by install_full_seek_to_committed / install_fresh_recovery_highwaters
    assert inspect.iscoroutinefunction(AIOKafkaConsumerThread.seek_to_committed)
    assert "seek_to_committed()" in inspect.getsource(Consumer.perform_seek)
    from faust.tables.recovery import Recovery

    built = inspect.signature(Recovery._build_highwaters).parameters
    assert list(built) == ["self", "consumer", "tps", "destination", "title"]
    assert "last_stable_offset" in inspect.getsource(AIOKafkaConsumerThread._highwaters)


def test_draining_worker_overrides_the_signal_handlers():
    for name in ("_on_sigterm", "_on_sigint"):
        assert getattr(faust_compat.DrainingWorker, name) is not getattr(faust.Worker, name)


def test_forget_acked_below_trims_fausts_ack_bookkeeping():
    from collections import defaultdict
    from types import SimpleNamespace

    from intervaltree import IntervalTree

    from pipeline.worker.faust_compat import forget_acked_below

    consumer = SimpleNamespace(
        _acked=defaultdict(list), _acked_index=defaultdict(set), _gap=defaultdict(IntervalTree)
    )
    consumer._acked["a"] = [5, 3, 9, 4, 12]
    consumer._acked_index["a"] = {3, 4, 5, 9, 12}
    consumer._gap["a"].addi(6, 8)  # a transaction marker's offsets
    consumer._gap["a"].addi(10, 11)
    forget_acked_below(consumer, {"a": 10, "b": 7})
    assert consumer._acked["a"] == [12] and consumer._acked_index["a"] == {12}
    assert sorted((i.begin, i.end) for i in consumer._gap["a"]) == [(10, 11)]
    assert "b" not in consumer._acked  # partitions faust has no record of are left alone


def test_the_fetch_loop_replaced_for_eager_delivery_is_the_one_copied():
    import hashlib

    from pipeline.worker import faust_delivery

    source = inspect.getsource(faust_delivery.UPSTREAM)
    assert hashlib.sha256(source.encode()).hexdigest() == faust_delivery.UPSTREAM_SHA256
    assert "callback(message), self.suspend_flow.wait()" in source


def test_step_eagerly_finishes_what_does_not_wait_and_resumes_what_does():
    import asyncio

    from pipeline.worker.faust_delivery import step_eagerly

    order = []

    async def quick(n):
        order.append(n)
        return n

    async def slow(n, gate):
        await gate.wait()
        await asyncio.sleep(0)
        order.append(n)

    async def failing():
        raise ValueError("boom")

    async def main():
        assert step_eagerly(quick(1)) is None  # ran to the end, no task
        gate = asyncio.Event()
        task = step_eagerly(slow(2, gate))
        assert task is not None and not task.done()
        gate.set()
        await task
        try:
            step_eagerly(failing())
        except ValueError:
            order.append("raised")
        blocked = step_eagerly(slow(3, asyncio.Event()))
        blocked.cancel()
        try:
            await blocked
        except asyncio.CancelledError:
            order.append("cancelled")

    asyncio.run(main())
    assert order == [1, 2, "raised", "cancelled"]
