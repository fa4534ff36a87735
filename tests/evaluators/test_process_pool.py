"""The evaluator process pool (evaluators/pool/): real processes, real evaluators.

Same results as the in-thread runner, and the same isolation: raises, hangs and killed
processes give error results for that evaluator only, and nothing is lost or left behind.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pool_fixtures
import pytest

from evaluators import EvaluationRunner, build_evaluators, discover
from evaluators.config import parse_config
from evaluators.pool import EvaluatorProcessPool, PoolStartError, start_pool
from evaluators.pool.payload import trace_from_bytes, trace_to_bytes
from pipeline.tools.demo.samples import sample_traces
from schemas import Trace

FIXTURES = "pool_fixtures:registry"


def _traces(count: int, seed: int = 5, tagged: dict[int, dict[str, str]] | None = None):
    traces = []
    for i, raw in enumerate(sample_traces(count, seed=seed)):
        if tagged and i in tagged:
            raw = {**raw, "tags": {**(raw.get("tags") or {}), **tagged[i]}}
        traces.append(Trace.model_validate(raw))
    return traces


def _comparable(results):
    """Everything but the measured duration."""
    return [[r.model_dump(exclude={"latency_ms"}) for r in per_trace] for per_trace in results]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _runner(config, processes=2, registry=FIXTURES):
    configured = build_evaluators(config, pool_fixtures.registry())
    pool = start_pool(config, configured, processes, registry=registry)
    return EvaluationRunner(configured, pool=pool), pool


def test_traces_round_trip_exactly_as_bytes():
    for trace in _traces(300, seed=3):
        assert trace_from_bytes(trace_to_bytes(trace)) == trace


def test_default_set_gives_the_same_results_in_processes_as_in_threads():
    config = parse_config({})
    configured = build_evaluators(config, discover())
    pooled = {c.name for c in configured if c.executor == "process"}
    assert pooled == {"correctness", "safety", "context_sufficiency"}
    traces = _traces(120, seed=7)
    threads = EvaluationRunner(configured)
    expected = threads.score(traces)
    threads.close()
    pool = start_pool(config, configured, 2)
    assert pool is not None and len(pool.pids) == 2
    try:
        in_processes = EvaluationRunner(configured, pool=pool)
        got = in_processes.score(traces)
        got_again = in_processes.score(traces[:7])  # a second, smaller batch
    finally:
        pool.close()
    assert _comparable(got) == _comparable(expected)
    assert _comparable(got_again) == _comparable(expected[:7])
    assert not any(r.error for per_trace in got for r in per_trace)
    assert pool.restarts == 0


def test_executor_comes_from_the_toml_then_the_class():
    config = parse_config(
        {
            "defaults": {"executor": "thread"},
            "evaluators": {"safety": {}, "latency": {"executor": "process"}},
        }
    )
    executors = {c.name: c.executor for c in build_evaluators(config, discover())}
    assert executors == {"safety": "thread", "latency": "process"}
    assert start_pool(parse_config({}), build_evaluators(parse_config({}), discover()), 0) is None


def test_a_raising_evaluator_gets_error_results_for_its_traces_only():
    config = parse_config(
        {"evaluators": {"boom": {"executor": "process"}, "pid": {"executor": "process"}}}
    )
    runner, pool = _runner(config)
    try:
        results = runner.score(_traces(6, tagged={1: {"boom": "1"}, 4: {"boom": "1"}}))
    finally:
        pool.close()
    boom = [next(r for r in per_trace if r.evaluator == "boom") for per_trace in results]
    assert [bool(r.error) for r in boom] == [False, True, False, False, True, False]
    assert "boom on purpose" in boom[1].error
    pids = {r.metadata["pid"] for per_trace in results for r in per_trace if r.evaluator == "pid"}
    assert len(pids) == 2 and os.getpid() not in pids  # scored in both pool processes
    assert pool.restarts == 0


def test_a_hanging_evaluator_is_cut_and_its_process_replaced_keeping_the_others():
    config = parse_config(
        {
            "evaluators": {
                "sleepy": {"executor": "process", "timeout_seconds": 1.5},
                "pid": {"executor": "process"},
                "latency": {},  # in a thread, beside the pool
            }
        }
    )
    runner, pool = _runner(config)
    try:
        before = list(pool.pids)
        started = time.monotonic()
        results = runner.score(_traces(8, tagged={6: {"hang": "1"}}))
        took = time.monotonic() - started
        after = list(pool.pids)
        again = runner.score(_traces(4))  # the replacement scores the next batch
    finally:
        pool.close()
    assert took < 15
    by_name = [{r.evaluator: r for r in per_trace} for per_trace in results]
    assert all(len(per_trace) == 3 for per_trace in results)
    # the chunk of traces 4-7 held the hang: sleepy timed out there, fine in 0-3
    assert [bool(r["sleepy"].error) for r in by_name] == [False] * 4 + [True] * 4
    assert "timed out after 1.5s" in by_name[6]["sleepy"].error
    # pid ran after sleepy in the same process: on its replacement, with results
    assert all(r["pid"].error is None and r["latency"].error is None for r in by_name)
    assert by_name[6]["pid"].metadata["pid"] not in before
    assert pool.restarts == 1 and len(set(before) & set(after)) == 1
    assert any(_gone(pid) for pid in before)
    assert not any(r.error for per_trace in again for r in per_trace)


def test_a_killed_pool_process_is_replaced_and_its_batch_retried(tmp_path):
    config = parse_config(
        {"evaluators": {"sleepy": {"executor": "process", "params": {"pause": 1.0}}}}
    )
    runner, pool = _runner(config)
    victim = pool.pids[0]
    killer = threading.Timer(0.4, os.kill, (victim, signal.SIGKILL))
    try:
        killer.start()
        results = runner.score(_traces(6))
    finally:
        killer.cancel()
        pool.close()
    assert all(len(per_trace) == 1 and per_trace[0].error is None for per_trace in results)
    assert pool.restarts == 1 and _gone(victim)


def test_a_process_that_dies_twice_on_an_evaluator_gives_it_error_results(tmp_path):
    marker = tmp_path / "died-once"
    config = parse_config(
        {
            "evaluators": {
                "dies": {"executor": "process"},
                "dies_once": {
                    "use": "dies",
                    "executor": "process",
                    "params": {"marker": str(marker)},
                },
                "pid": {"executor": "process"},
            }
        }
    )
    runner, pool = _runner(config, processes=1)
    try:
        results = runner.score(_traces(3, tagged={1: {"die": "1"}}))
    finally:
        pool.close()
    by_name = [{r.evaluator: r for r in per_trace} for per_trace in results]
    assert all(r["dies"].error and "died twice" in r["dies"].error for r in by_name)
    assert all(r["dies_once"].error is None for r in by_name)  # retried after one death
    assert all(r["pid"].error is None for r in by_name)
    assert pool.restarts == 3 and marker.exists()


def test_close_leaves_no_process_behind():
    config = parse_config({"evaluators": {"sleepy": {"executor": "process"}}})
    runner, pool = _runner(config)
    pids = list(pool.pids)
    runner.score(_traces(2))
    pool.close()
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pids) == 2 and all(_gone(pid) for pid in pids)


def test_a_process_that_cannot_build_the_evaluators_fails_at_start_in_one_line():
    config = parse_config({"evaluators": {"boom": {"executor": "process"}}})
    with pytest.raises(PoolStartError, match="unknown evaluator 'boom'") as raised:
        EvaluatorProcessPool(config, ["boom"], 1, registry="pool_fixtures:broken_registry")
    assert "\n" not in str(raised.value)
