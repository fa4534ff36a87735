"""A large results + traces + spans data directory, generated column-wise with numpy/pyarrow.

A million traces take well under a minute: every string column is a ``take`` from a small pool
of realistic values (so files compress like real ones), ids are random (so Parquet min/max
statistics cannot find a trace id for free, as with real UUIDs), and rows are split per hour
and per simulated Kafka partition, as a worker would write them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.tools.demo.samples import _CHAT, _FACTS
from pipeline.tools.ui.testing import write_hive
from schemas import arrow_schema
from schemas.datasets import spans_arrow_schema, traces_arrow_schema

EVALUATORS = ("latency", "error", "token_usage", "cost", "correctness", "safety",
              "context_sufficiency")  # fmt: skip
LABELS = {True: "pass", False: "fail"}
APPS = ("support-bot", "chat", "search")
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku")
KAFKA_PARTITIONS = 4
SPANS_PER_TRACE = 3


def _const(value: object, count: int, kind: pa.DataType = pa.string()) -> pa.Array:
    """``count`` copies of one value without a Python list of them."""
    return pa.repeat(pa.scalar(value, kind), count)


def _empty_lists(count: int) -> pa.Array:
    offsets = pa.array(np.zeros(count + 1, np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array([], pa.string()))


def _pool(values: list) -> pa.Array:
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values])


def _pools() -> dict[str, pa.Array]:
    inputs = [{"question": q} for q, *_ in _FACTS] + [
        {"messages": [{"role": "user", "content": p}]} for p, _ in _CHAT
    ]
    outputs = [good for *_, good, _ in _FACTS] + [bad for *_, bad in _FACTS] + [a for _, a in _CHAT]
    return {
        "inputs": _pool(inputs),
        "outputs": _pool(outputs),
        "context": _pool([[doc] for _, doc, *_ in _FACTS] + [None]),
        "expectations": _pool([{"expected_response": e} for _, _, e, *_ in _FACTS] + [None] * 3),
        "rationale": pa.array([f"rationale {i}: matched some, missed others" for i in range(40)]),
    }  # fmt: skip


def _ids(rng: np.random.Generator, count: int, prefix: str) -> pa.Array:
    numbers = pa.array(rng.integers(10**15, 10**16, size=count, dtype=np.int64))
    return pc.binary_join_element_wise(prefix, pc.cast(numbers, pa.string()), "")


def _pick(rng: np.random.Generator, pool: pa.Array | tuple, count: int) -> pa.Array:
    pool = pa.array(pool) if isinstance(pool, tuple) else pool
    return pool.take(pa.array(rng.integers(0, len(pool), size=count)))


def traces_table(rng: np.random.Generator, count: int, start_ms: int, hours: int) -> pa.Table:
    pools = _pools()
    times = np.sort(rng.integers(start_ms, start_ms + hours * 3_600_000, size=count))
    latency = np.round(rng.lognormal(6.6, 0.5, size=count), 1)
    tokens_in, tokens_out = rng.integers(80, 1200, count), rng.integers(10, 400, count)
    error = rng.random(count) < 0.05
    # A session is a conversation: ~20 traces close in time (rows are in time order).
    sessions = pc.binary_join_element_wise(
        "session-", pc.cast(pa.array(np.arange(count) // 20), pa.string()), ""
    )
    columns = {
        "trace_id": _ids(rng, count, "tr-"), "trace_version": pa.array(np.ones(count, np.int64)),
        "timestamp": pa.array(times, pa.timestamp("ms", tz="UTC")),
        "app": _pick(rng, APPS, count), "session_id": sessions,
        "user_id": _ids(rng, count, "user-"), "model": _pick(rng, MODELS, count),
        "status": pa.array(np.where(error, "ERROR", "OK")),
        "error": pa.array(np.where(error, "RateLimitError: 429", None)),
        "latency_ms": pa.array(latency), "input_tokens": pa.array(tokens_in),
        "output_tokens": pa.array(tokens_out),
        "cost_usd": pa.array((tokens_in * 0.15 + tokens_out * 0.6) / 1e6),
        "inputs_json": _pick(rng, pools["inputs"], count),
        "outputs_json": _pick(rng, pools["outputs"], count),
        "context_json": _pick(rng, pools["context"], count),
        "expectations_json": _pick(rng, pools["expectations"], count),
        "tags_json": _const('{"env": "prod"}', count),
        "truncated_fields": _empty_lists(count),
        "kafka_topic": _const("traces", count),
        "kafka_partition": pa.array(rng.integers(0, KAFKA_PARTITIONS, count).astype(np.int32)),
        "kafka_offset": pa.array(np.arange(count, dtype=np.int64)),
        "schema_version": pa.array(np.ones(count, np.int32)),
    }  # fmt: skip
    return pa.Table.from_pydict(columns, traces_arrow_schema())


def results_table(rng: np.random.Generator, traces: pa.Table) -> pa.Table:
    count = traces.num_rows * len(EVALUATORS)
    repeat = pa.array(np.repeat(np.arange(traces.num_rows), len(EVALUATORS)))
    score = np.round(rng.beta(4, 1.2, size=count), 4)
    passed = score >= 0.5
    names = pa.array(np.tile(np.array(EVALUATORS), traces.num_rows))
    shared = ("trace_id", "timestamp", "app", "model", "status", "latency_ms",
              "input_tokens", "output_tokens", "cost_usd", "kafka_topic", "kafka_partition",
              "kafka_offset", "trace_version")  # fmt: skip
    columns = {name: traces[name].take(repeat) for name in shared}
    columns |= {
        "evaluator": names, "evaluator_version": _const("1", count),
        "score": pa.array(score), "passed": pa.array(passed),
        "label": pa.array(np.where(passed, "pass", "fail")),
        "rationale": _pick(rng, _pools()["rationale"], count),
        "error": pa.nulls(count, pa.string()),
        "eval_latency_ms": pa.array(rng.random(count) * 10), "source": _const("code", count),
        "span_id": pa.nulls(count, pa.string()), "metadata_json": _const("{}", count),
        "schema_version": pa.array(np.ones(count, np.int32)),
    }  # fmt: skip
    schema = arrow_schema()
    return pa.Table.from_pydict({f.name: columns[f.name] for f in schema}, schema)


def spans_table(rng: np.random.Generator, traces: pa.Table) -> pa.Table:
    n = traces.num_rows
    repeat = pa.array(np.repeat(np.arange(n), SPANS_PER_TRACE))
    trace_ids = traces["trace_id"].take(repeat)
    kind = np.tile(np.arange(SPANS_PER_TRACE), n)
    suffix = pa.array(np.array(["-root", "-retrieve", "-llm"])[kind])
    start = traces["timestamp"].cast(pa.int64()).to_numpy()
    latency = traces["latency_ms"].to_numpy()
    split = start + (latency * 0.3).astype(np.int64)
    begin = np.where(kind == 2, np.repeat(split, 3), np.repeat(start, 3))
    end = np.where(kind == 1, np.repeat(split, 3), np.repeat(start + latency.astype(np.int64), 3))
    root = pc.binary_join_element_wise(traces["trace_id"], "-root", "").take(repeat)
    ts = pa.timestamp("ms", tz="UTC")
    columns = {
        "trace_id": trace_ids, "trace_version": pa.array(np.ones(n * 3, np.int64)),
        "trace_timestamp": traces["timestamp"].take(repeat),
        "span_id": pc.binary_join_element_wise(trace_ids, suffix, ""),
        "parent_id": pc.if_else(pa.array(kind == 0), pa.nulls(n * 3, pa.string()), root),
        "name": pa.array(np.array(["handle_request", "retrieve", "chat_completion"])[kind]),
        "span_type": pa.array(np.array(["CHAIN", "RETRIEVER", "LLM"])[kind]),
        "start_time": pa.array(begin, ts), "end_time": pa.array(end, ts),
        "status": _const("OK", n * 3),
        "inputs_json": traces["inputs_json"].take(repeat),
        "outputs_json": pc.if_else(pa.array(kind == 1), traces["context_json"].take(repeat),
                                   traces["outputs_json"].take(repeat)),
        "attributes_json": _const('{"top_k": 2}', n * 3),
        "truncated_fields": _empty_lists(n * 3),
        "kafka_topic": traces["kafka_topic"].take(repeat),
        "kafka_partition": traces["kafka_partition"].take(repeat),
        "kafka_offset": traces["kafka_offset"].take(repeat),
        "schema_version": pa.array(np.ones(n * 3, np.int32)),
    }  # fmt: skip
    return pa.Table.from_pydict(columns, spans_arrow_schema())


def _write_per_partition(table: pa.Table, root: Path, time_column: str) -> None:
    for partition in range(KAFKA_PARTITIONS):
        part = table.filter(pc.equal(table["kafka_partition"], partition))
        write_hive(part, root, time_column, f"traces-p{partition}")


def generate(results_dir: Path, count: int, *, hours: int = 48, seed: int = 1) -> pa.Table:
    """Write ``count`` traces' results, traces and spans; returns the traces table."""
    rng = np.random.default_rng(seed)
    start_ms = 1_795_600_800_000  # 2026-11-25 10:00 UTC
    traces = traces_table(rng, count, start_ms, hours)
    _write_per_partition(traces, results_dir.parent / "traces", "timestamp")
    _write_per_partition(results_table(rng, traces), results_dir, "timestamp")
    _write_per_partition(spans_table(rng, traces), results_dir.parent / "spans", "trace_timestamp")
    return traces
