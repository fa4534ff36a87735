"""The evaluator process pool through a real broker and a real worker process: with
EVALSTREAM_EVALUATOR_PROCESSES=2 the quality evaluators run in two pool processes, and the
Parquet rows and scored messages hold exactly the results the in-thread runner gives for the
same traces; the pool processes are gone once the worker has stopped."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pandas as pd
from kafka_helpers import consume_all, produce
from worker_process import ROOT, worker_env

from evaluators import EvaluationRunner, build_evaluators, discover, load_config
from pipeline.tools.demo.samples import sample_traces
from schemas import EvaluationResult, ScoredTrace, Trace

COLUMNS = ["score", "passed", "label", "rationale", "error", "metadata_json"]


def _children(pid: int) -> set[int]:
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.add(int(status.parent.name))
    return found


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _in_threads(raws: list[dict]) -> dict[tuple[str, str], EvaluationResult]:
    """What the in-thread runner gives for the same traces, by (trace id, evaluator)."""
    runner = EvaluationRunner(build_evaluators(load_config(None), discover()))
    traces = [Trace.model_validate(raw) for raw in raws]
    try:
        scored = runner.score(traces)
    finally:
        runner.close()
    return {
        (trace.trace_id, r.evaluator): r
        for trace, results in zip(traces, scored, strict=True)
        for r in results
    }


def _columns(r: EvaluationResult) -> dict:
    return {
        "score": r.score,
        "passed": r.passed,
        "label": r.label,
        "rationale": r.rationale,
        "error": r.error,
        "metadata_json": orjson.dumps(r.metadata).decode() if r.metadata else None,
    }


def test_pool_on_gives_the_in_thread_results_in_parquet_and_on_the_scored_topic(
    kafka_bootstrap, new_topic, tmp_path
):
    topic = new_topic(partitions=2)
    raws = list(sample_traces(100, seed=23))
    produce(kafka_bootstrap, topic, [orjson.dumps(t) for t in raws])
    parquet_dir = tmp_path / "parquet"
    env = worker_env(kafka_bootstrap, topic, parquet_dir, EVALSTREAM_EVALUATOR_PROCESSES="2")
    worker = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "4"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    pool: set[int] = set()
    deadline = time.monotonic() + 240
    while worker.poll() is None and time.monotonic() < deadline:
        pool |= {pid for pid in _children(worker.pid) if _alive(pid)}
        time.sleep(0.2)
    if worker.poll() is None:
        worker.kill()
    stderr = worker.communicate()[1]
    assert worker.returncode == 0, stderr[-4000:]
    assert "2 evaluator processes for correctness, safety, context_sufficiency" in stderr
    assert "scored 100" in stderr
    assert len(pool) >= 2  # the pool processes seen while it ran
    assert not any(_alive(pid) for pid in pool), "a pool process outlived the worker"

    expected = _in_threads(raws)
    frame = pd.read_parquet(parquet_dir)
    assert len(frame) == len(expected)
    got = {
        (row.trace_id, row.evaluator): {c: getattr(row, c) for c in COLUMNS}
        for row in frame.itertuples()
    }
    for values in got.values():  # pandas reads missing values as None / NaN
        for column, value in values.items():
            if isinstance(value, float) and value != value:
                values[column] = None
    assert got == {key: _columns(r) for key, r in expected.items()}

    scored = [
        ScoredTrace.model_validate_json(r.value)
        for r in consume_all(kafka_bootstrap, f"{topic}.scored")
    ]
    assert len(scored) == 100
    on_topic = {
        (s.trace_id, r.evaluator): r.model_dump(exclude={"latency_ms"})
        for s in scored
        for r in s.results
    }
    assert on_topic == {key: r.model_dump(exclude={"latency_ms"}) for key, r in expected.items()}
