"""Write the three datasets from traces and their results, in the layout the UI reads.

Until the worker writes ``traces`` and ``spans`` itself, this is how tests, the benchmark and a
curious user get data for ``evalstream ui``: rows follow the column contracts of
``schemas.parquet`` and ``schemas.datasets`` and land in ``date=YYYY-MM-DD/hour=HH/`` files,
exactly what ``pd.read_parquet`` or DuckDB would read from a worker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas import EvaluationResult, Trace, arrow_schema
from schemas.datasets import (
    DEFAULT_FIELD_LIMIT_BYTES,
    clip_field,
    spans_arrow_schema,
    traces_arrow_schema,
)
from schemas.parquet import PARQUET_COLUMNS


def write_hive(table: pa.Table, root: Path, time_column: str, stem: str) -> list[Path]:
    """One file per UTC hour of ``time_column`` under ``root/date=.../hour=.../``."""
    if table.num_rows == 0:
        return []
    hours = pc.floor_temporal(table[time_column], unit="hour")
    order = pc.sort_indices(hours)
    table, hours = table.take(order), hours.take(order)
    epoch = hours.cast(pa.int64()).to_numpy()
    starts = np.flatnonzero(np.r_[True, epoch[1:] != epoch[:-1]])
    ends = np.r_[starts[1:], len(epoch)]
    written = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        hour = hours[start].as_py()
        directory = root / f"date={hour:%Y-%m-%d}" / f"hour={hour:%H}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{stem}.parquet"
        pq.write_table(table.slice(start, end - start), path)
        written.append(path)
    return written


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, default=str).decode()


def _clipped(row: dict[str, Any], limit: int) -> dict[str, Any]:
    cut = []
    for name in [n for n in row if n.endswith("_json")]:
        row[name], was_cut = clip_field(row[name], limit)
        if was_cut:
            cut.append(name)
    row["truncated_fields"] = cut
    return row


def result_rows(
    trace: Trace, results: Iterable[EvaluationResult], offset: int, topic: str, version: int
) -> list[dict[str, Any]]:
    """Rows of the results dataset for one trace."""
    base = {
        "trace_id": trace.trace_id, "timestamp": trace.timestamp, "app": trace.app,
        "model": trace.model, "status": trace.status.value, "latency_ms": trace.latency_ms,
        "input_tokens": trace.input_tokens, "output_tokens": trace.output_tokens,
        "cost_usd": trace.cost_usd, "kafka_topic": topic, "kafka_partition": 0,
        "kafka_offset": offset, "schema_version": 1,
    }  # fmt: skip
    return [
        {
            **base,
            "evaluator": r.evaluator,
            "evaluator_version": r.evaluator_version,
            "score": r.score,
            "passed": r.passed,
            "label": r.label,
            "rationale": r.rationale,
            "error": r.error,
            "eval_latency_ms": r.latency_ms,
            "source": r.source.value,
            "span_id": r.span_id,
            "metadata_json": _json(r.metadata),
            "trace_version": version,
        }
        for r in results
    ]


def trace_row(trace: Trace, offset: int, topic: str, version: int, limit: int) -> dict[str, Any]:
    """The ``traces`` row of one trace version (JSON fields clipped to ``limit`` bytes)."""
    expectations = trace.expectations.model_dump(exclude_none=True) if trace.expectations else None
    row = {
        "trace_id": trace.trace_id, "trace_version": version, "timestamp": trace.timestamp,
        "app": trace.app, "session_id": trace.tags.get("session_id"),
        "user_id": trace.tags.get("user_id"), "model": trace.model,
        "status": trace.status.value, "error": trace.error, "latency_ms": trace.latency_ms,
        "input_tokens": trace.input_tokens, "output_tokens": trace.output_tokens,
        "cost_usd": trace.cost_usd, "inputs_json": _json(trace.inputs),
        "outputs_json": _json(trace.outputs), "context_json": _json(trace.context),
        "expectations_json": _json(expectations), "tags_json": _json(trace.tags),
        "kafka_topic": topic, "kafka_partition": 0, "kafka_offset": offset, "schema_version": 1,
    }  # fmt: skip
    return _clipped(row, limit)


def span_rows(trace: Trace, offset: int, topic: str, version: int, limit: int) -> list[dict]:
    rows = []
    for index, span in enumerate(trace.spans or []):
        row = {
            "trace_id": trace.trace_id, "trace_version": version,
            "trace_timestamp": trace.timestamp, "span_id": span.span_id or f"span-{index}",
            "parent_id": span.parent_id, "name": span.name, "span_type": span.span_type,
            "start_time": span.start_time, "end_time": span.end_time,
            "status": span.status.value if span.status else None,
            "inputs_json": _json(span.inputs), "outputs_json": _json(span.outputs),
            "attributes_json": _json(span.attributes), "kafka_topic": topic,
            "kafka_partition": 0, "kafka_offset": offset, "schema_version": 1,
        }  # fmt: skip
        rows.append(_clipped(row, limit))
    return rows


def write_datasets(
    results_dir: Path,
    scored: Sequence[tuple[Trace, Sequence[EvaluationResult]]],
    *,
    with_content: bool = True,
    topic: str = "traces",
    versions: Sequence[int] | None = None,
    first_offset: int = 0,
    limit_bytes: int = DEFAULT_FIELD_LIMIT_BYTES,
) -> None:
    """Write results (and, ``with_content``, traces and spans) beside each other.

    ``results_dir`` is the results dataset; traces and spans go to its siblings, as the UI
    expects. ``versions[i]`` is the ``trace_version`` of ``scored[i]`` (default 1); files are
    named by the offset range, so calls with distinct ``first_offset`` add files.
    """
    results, traces, spans = [], [], []
    for index, (trace, trace_results) in enumerate(scored):
        offset = first_offset + index
        version = versions[index] if versions else 1
        results += result_rows(trace, trace_results, offset, topic, version)
        traces.append(trace_row(trace, offset, topic, version, limit_bytes))
        spans += span_rows(trace, offset, topic, version, limit_bytes)
    schema = arrow_schema()  # the results contract, trace_version included
    names = [c[0] for c in PARQUET_COLUMNS]
    table = pa.Table.from_pylist([{n: r[n] for n in names} for r in results], schema)
    stem = f"{topic}-p0-o{first_offset:012d}-{first_offset + len(scored) - 1:012d}"
    write_hive(table, results_dir, "timestamp", stem)
    if with_content:
        write_hive(
            pa.Table.from_pylist(traces, traces_arrow_schema()),
            results_dir.parent / "traces",
            "timestamp",
            stem,
        )
        write_hive(
            pa.Table.from_pylist(spans, spans_arrow_schema()),
            results_dir.parent / "spans",
            "trace_timestamp",
            stem,
        )


def with_spans(trace: dict[str, Any], index: int, sessions: int = 40) -> dict[str, Any]:
    """``trace`` plus a span tree (root, retrieval, LLM call) and a session tag.

    The spans carry what a real RAG app records: the retrieval span's output is the context,
    the LLM span's input the question and its output the answer.
    """
    if not trace.get("timestamp"):
        return trace
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(trace["timestamp"].replace("Z", "+00:00"))
    total = timedelta(milliseconds=trace.get("latency_ms") or 100.0)
    retrieval_end = start + total * 0.3
    ok = "ERROR" if trace.get("status") == "ERROR" else "OK"
    root = f"{trace['trace_id']}-root"
    spans = [
        {"span_id": root, "name": "handle_request", "span_type": "CHAIN", "status": ok,
         "start_time": start.isoformat(), "end_time": (start + total).isoformat(),
         "inputs": trace.get("inputs"), "outputs": trace.get("outputs"),
         "attributes": {"app": trace.get("tags", {}).get("app")}},
        {"span_id": f"{trace['trace_id']}-retrieve", "parent_id": root, "name": "retrieve",
         "span_type": "RETRIEVER", "status": "OK", "start_time": start.isoformat(),
         "end_time": retrieval_end.isoformat(), "inputs": trace.get("inputs"),
         "outputs": trace.get("context") or [], "attributes": {"top_k": 2}},
        {"span_id": f"{trace['trace_id']}-llm", "parent_id": root, "name": "chat_completion",
         "span_type": "LLM", "status": ok, "start_time": retrieval_end.isoformat(),
         "end_time": (start + total).isoformat(), "inputs": trace.get("inputs"),
         "outputs": trace.get("outputs"),
         "attributes": {"model": trace.get("model"), "usage": trace.get("usage")}},
    ]  # fmt: skip
    tags = {**trace.get("tags", {}), "session_id": f"session-{index % sessions:03d}",
            "user_id": f"user-{index % 7}"}  # fmt: skip
    return {**trace, "spans": spans, "tags": tags}


def score_traces(traces: Iterable[dict[str, Any] | Trace]) -> list[tuple[Trace, list]]:
    """Each trace with the results of the default evaluator set, run as the worker runs it."""
    from evaluators import EvaluationRunner, build_evaluators, discover, load_config

    models = [t if isinstance(t, Trace) else Trace.model_validate(t) for t in traces]
    runner = EvaluationRunner(build_evaluators(load_config(None), discover()))
    try:
        return list(zip(models, runner.score(models), strict=True))
    finally:
        runner.close()
