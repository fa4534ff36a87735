"""Total worker CPU per trace until every row is in Parquet, for Parquet rows from memory vs
the scored topic read back (issue 20 item 2), one broker, interleaved rounds.

``throughput.py`` measures CPU over the window in which scored traces arrive: the topic path
writes part of its Parquet rows after that window (its Parquet loop reads the committed
scored topic behind the score loop), the memory path inside it, so that window favours the
topic path. Here each worker runs from start to ``--stop-when-idle`` exit (all rows written
and committed) and its whole CPU (``wait4`` rusage: every thread) is counted; start-up is
the same for every run and is measured by an empty run.

    python benchmarks/parquet_cpu_ab.py [--traces 20000] [--rounds 2] [--compare-root DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _bench_traces import encoded  # noqa: E402
from throughput import OPERATIONAL, worker_env  # noqa: E402

from pipeline.kafka.broker import free_port, start_broker, stop_broker  # noqa: E402


def run_worker(bootstrap: str, tmp: Path, name: str, root: Path, extra: dict[str, str]):
    env = worker_env(bootstrap, tmp, name, name, OPERATIONAL)
    env.update(EVALSTREAM_LOG_LEVEL="WARNING", PYTHONPATH=str(root), **extra)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "2"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp / f"{name}.log").open("w"),
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    parquet = tmp / name / "parquet"
    rows = ds.dataset(parquet, partitioning="hive").count_rows() if parquet.exists() else 0
    return usage.ru_utime + usage.ru_stime, wall, rows, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--compare-root", type=Path, default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="evalstream-parquet-ab-"))
    handle = start_broker(port=free_port(), data_dir=tmp / "kafka")
    runs = [("memory", ROOT, {"EVALSTREAM_PARQUET_FROM": "memory"})]
    runs.append(("topic", ROOT, {"EVALSTREAM_PARQUET_FROM": "topic"}))
    if args.compare_root is not None:
        runs.append(("before", args.compare_root, {}))
    results: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _, _ in runs}
    try:
        admin = KafkaAdminClient(bootstrap_servers=handle.bootstrap)
        producer = KafkaProducer(bootstrap_servers=handle.bootstrap, acks="all", linger_ms=20)
        traces = encoded(args.traces)
        for round_ in range(args.rounds):
            for label, root, extra in runs:
                name = f"ab-{label}-{round_}"
                admin.create_topics([NewTopic(name, 4, 1)])
                for key, value in traces:
                    producer.send(name, key=key, value=value)
                producer.flush()
                cpu, wall, rows, code = run_worker(handle.bootstrap, tmp, name, root, extra)
                results[label].append((cpu, wall, rows))
                print(f"{label} round {round_ + 1}: {cpu:.2f} s CPU, {wall:.1f} s, {rows:,} rows,"
                      f" exit {code}", flush=True)  # fmt: skip
            empty = f"ab-empty-{round_}"
            admin.create_topics([NewTopic(empty, 4, 1)])
            cpu, wall, _, _ = run_worker(handle.bootstrap, tmp, empty, ROOT, {})
            results.setdefault("empty", []).append((cpu, wall, 0))
            print(f"empty round {round_ + 1}: {cpu:.2f} s CPU (start-up and idle stop)")
        producer.close()
        admin.close()
    finally:
        stop_broker(handle)
    base = statistics.median(c for c, _, _ in results["empty"])
    print(f"\n{args.traces:,} traces, {args.rounds} rounds; CPU per trace above the empty run's"
          f" {base:.2f} s:")  # fmt: skip
    for label, values in results.items():
        if label == "empty":
            continue
        per = sorted((c - base) / args.traces * 1e6 for c, _, _ in values)
        rows = {r for _, _, r in values}
        print(f"  {label:7s} {statistics.median(per):6.0f} µs/trace (min {per[0]:.0f}, max"
              f" {per[-1]:.0f}); rows {sorted(rows)}")  # fmt: skip


if __name__ == "__main__":
    main()
