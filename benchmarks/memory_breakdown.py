"""Where the worker's memory goes: RSS after each start-up step and after N traces, in-process.

    .venv/bin/python benchmarks/memory_breakdown.py [--traces 5000] [--batch 500]
        [--config operational|default] [--tracemalloc]

Runs the worker's own scoring code (``pipeline.evaluate.scorer.Scorer``: the configured
evaluators in the runner's threads, the session evaluators beside them) on the benchmark
traces of ``benchmarks/throughput.py`` without Kafka, and prints after each step: current RSS
and peak (VmRSS / VmHWM), anonymous vs file-backed RSS (/proc/self/smaps_rollup), what glibc's
malloc holds (mallinfo2: in use vs free but kept), the encoder's caches, and with
``--tracemalloc`` the Python heap (current / peak; it slows the run down 2-3x).
Steps: interpreter, imports of the worker, evaluators built, first batch (the encoder is
loaded on first use), then every ``--report-every`` traces.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _memprof.proc_memory import kb, mallinfo  # noqa: E402


def snapshot(step: str, encoder=None) -> None:
    status = kb("/proc/self/status", "VmRSS", "VmHWM")
    rollup = kb("/proc/self/smaps_rollup", "Anonymous", "Rss")
    anon = rollup.get("Anonymous", 0.0)
    parts = [
        f"RSS {status['VmRSS']:6.0f}",
        f"peak {status['VmHWM']:6.0f}",
        f"anon {anon:6.0f}",
        f"file {rollup.get('Rss', 0.0) - anon:5.0f}",
    ]
    info = mallinfo()
    if info is not None:
        mb = 2**20
        parts.append(f"malloc used {info.uordblks / mb:5.0f} free {info.fordblks / mb:5.0f}"
                     f" mmap {info.hblkhd / mb:5.0f}")  # fmt: skip
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        parts.append(f"py heap {current / 2**20:5.0f} (peak {peak / 2**20:5.0f})")
    if encoder is not None:
        parts.append(f"encoder caches {encoder_cache_mb(encoder):5.1f}")
    print(f"{step:<34} " + " | ".join(parts) + " (MB)", flush=True)


def encoder_cache_mb(encoder) -> float:
    total = sum(v.nbytes for v in encoder._recent.values())
    total += sum(s.vectors.nbytes for s in encoder._recent_tokens.values())
    return total / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--traces", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--report-every", type=int, default=1000)
    parser.add_argument("--config", choices=("operational", "default"), default="default")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--top", type=int, default=0, help="with --tracemalloc: top N lines")
    args = parser.parse_args()
    if args.tracemalloc:
        tracemalloc.start()
    snapshot("interpreter")

    from _bench_traces import bench_traces

    import pipeline.cli
    import pipeline.worker  # noqa: F401
    from evaluators.config import EvaluatorConfig
    from schemas import Trace

    snapshot("imports (worker, evaluators)")
    traces = [Trace.model_validate(t) for t in bench_traces(args.traces)]
    snapshot(f"{args.traces:,} traces decoded")
    from pipeline.evaluate.scorer import Scorer

    if args.config == "operational":
        from evaluators.config import parse_config

        names = ("latency", "error", "token_usage", "cost")
        config = parse_config({"evaluators": {n: {} for n in names}}, origin="operational")
    else:
        config = EvaluatorConfig()
    scorer = Scorer(config)
    snapshot("evaluators built")
    from evaluators.builtin.encoder import shared as shared_module

    done = 0
    started = time.monotonic()
    while done < len(traces):
        batch = traces[done : done + args.batch]
        scorer.runner.score(batch)
        first = done == 0
        done += len(batch)
        encoder = shared_module._STATE.get("encoder")
        if first:
            snapshot("first batch (encoder loaded)", encoder)
        elif done % args.report_every < args.batch:
            snapshot(f"{done:,} traces", encoder)
    elapsed = time.monotonic() - started
    gc.collect()
    snapshot("end, after gc.collect()", shared_module._STATE.get("encoder"))
    print(f"{done:,} traces in {elapsed:.1f}s ({done / elapsed:,.0f}/s)")
    if args.tracemalloc and args.top:
        stats = tracemalloc.take_snapshot().statistics("lineno")
        for stat in stats[: args.top]:
            print(stat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
