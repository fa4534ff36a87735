"""Cost of the table sinks: the Parquet files vs the Delta tables, same rows, same run.

Feeds N scored-trace messages (4 results and 3 spans each, the traces and spans datasets on,
as the worker writes by default) to ``ParquetSink`` and to ``DeltaSink`` in flushes of B
messages over 2 scored partitions, into fresh temporary directories on local disk, and
prints, per sink, traces/s through ``add`` + ``flush`` and CPU seconds per 1,000 traces.
The runs alternate (parquet, delta, parquet, delta, ...) so the machine's noise hits both;
the median of the repeats is reported. No broker: this is only the sink's share of a
worker's CPU (compare with docs/performance.md's per-worker figures).

    .venv/bin/python benchmarks/table_sink.py [--traces 20000] [--batch 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from pipeline.sinks.delta import DeltaSink
from pipeline.sinks.parquet import ParquetSink


def message(i: int) -> dict:
    hour = 10 + (i // 5000) % 3
    return {
        "trace_id": f"tr-{i:08d}",
        "timestamp": f"2026-11-25T{hour}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        "app": "support-bot",
        "model": "gpt-4o",
        "status": "OK" if i % 7 else "ERROR",
        "error": None if i % 7 else "upstream timeout",
        "latency_ms": 100.0 + i % 900,
        "input_tokens": 200 + i % 50,
        "output_tokens": 80 + i % 30,
        "cost_usd": 0.0012,
        "tags": {"app": "support-bot", "session_id": f"s-{i % 97}"},
        "source": {"topic": "traces", "partition": i % 2, "offset": i // 2},
        "results": [
            {
                "evaluator": name,
                "score": 0.5 + (i % 10) / 20,
                "passed": bool(i % 3),
                "label": "ok",
                "rationale": "within budget",
                "latency_ms": 0.1,
            }
            for name in ("latency", "error", "token_usage", "cost")
        ],
        "body": {
            "inputs": {"question": f"How do refunds work for order {i}?"},
            "outputs": "Annual plans can be refunded within 30 days of purchase. " * 4,
            "context": [f"doc {k}: refunds policy paragraph {k}" for k in range(3)],
            "spans": [
                {
                    "span_id": f"{i}-{k}",
                    "parent_id": f"{i}-0" if k else None,
                    "name": ("llm", "retrieve", "rerank")[k],
                    "start_time": "2026-11-25T10:00:00Z",
                    "end_time": "2026-11-25T10:00:01Z",
                    "inputs": {"k": k},
                    "outputs": f"out {k}",
                }
                for k in range(3)
            ],
        },
    }


def run(sink_type: type, messages: list[dict], batch: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds) to add and flush every message, and the bytes written
    (every file of the three datasets, the Delta logs included)."""
    with tempfile.TemporaryDirectory(prefix="bench-sink-") as tmp:
        sink = sink_type(Path(tmp) / "parquet", 10**9, 10**9, store_traces=True)
        wall, cpu = time.perf_counter(), time.process_time()
        offsets = [0, 0]
        for start in range(0, len(messages), batch):
            for i in range(start, min(start + batch, len(messages))):
                partition = i % 2
                sink.add(messages[i], "scored-traces", partition, offsets[partition])
                offsets[partition] += 1
            sink.flush()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        return wall, cpu, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000, help="messages per flush")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    messages = [message(i) for i in range(args.traces)]
    timings: dict[str, list[tuple[float, float, int]]] = {"parquet": [], "delta": []}
    for _ in range(args.repeats):
        timings["parquet"].append(run(ParquetSink, messages, args.batch))
        timings["delta"].append(run(DeltaSink, messages, args.batch))
    print(
        f"{args.traces:,} traces (4 results, 3 spans each), flushes of {args.batch:,},"
        f" median of {args.repeats}"
    )
    print(f"{'sink':8} {'traces/s':>10} {'CPU s / 1k traces':>18} {'x parquet':>10} {'B/trace':>8}")
    base = statistics.median(w for w, _, _ in timings["parquet"])
    for name, runs in timings.items():
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        size = statistics.median(b for _, _, b in runs)
        print(
            f"{name:8} {args.traces / wall:>10,.0f} {1000 * cpu / args.traces:>18.3f}"
            f" {base / wall:>10.2f} {size / args.traces:>8,.0f}"
        )


if __name__ == "__main__":
    main()
