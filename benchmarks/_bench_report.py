"""The markdown tables benchmarks/throughput.py prints (pasted into docs/performance.md).

Rates are compared within a round (every config of a round saw about the same background
load on this shared machine), as medians over the rounds of rate / a reference's rate:
"x strongest" against the strongest plain aiokafka loop (the reference of issue 20's targets),
"x transactional" against the same loop with a transactional producer (the like-for-like of
the exactly-once worker), "x confluent" against the plain confluent-kafka loop (librdkafka's
C threads do the Kafka work: a ceiling for any Python client, not a target).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
from typing import Any

from _bench_probe import WORKER_AREAS, by_area, hottest, inclusive

PLAIN = ("strong",)
TRANSACTIONAL = ("transactional",)
CONFLUENT = ("confluent",)
PROFILE_AREAS = [
    "decode_trace",
    "evaluators/runner.py",
    "evaluate_batch",
    "to_results",
    "to_message",
    "model_dump",
    "pydantic",
    "_score_agent",
    "prepare (pipeline/worker/stages.py)",
    "send (pipeline/worker/stages.py)",
    "_parquet_agent",
    "pipeline/sinks/encode.py",
    "pipeline/sinks/parquet.py",
    "pipeline/sinks/rows.py",
    "pipeline/evaluate/windows.py",
    "pipeline/worker/observers.py",
    "pipeline/prometheus.py",
    "aiokafka/",
    "faust/",
    "mode/",
]


def format_values(values: list[float | None], pattern: str) -> str:
    return " + ".join("?" if v is None else pattern.format(v) for v in values)


def _reference(run_round: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    rates = [run_round[k].rate for k in keys if k in run_round]
    return max(rates) if rates else None


def _ratio(rounds: list[dict[str, Any]], key: str, keys: tuple[str, ...]) -> str:
    ratios = []
    for run_round in rounds:
        ref = _reference(run_round, keys)
        if ref and key in run_round:
            ratios.append(run_round[key].rate / ref)
    return f"{statistics.median(ratios):.2f}" if ratios else "-"


def _cpu_per_trace(rounds: list[dict[str, Any]], key: str) -> str:
    """Median (min - max) process CPU (all processes of the run) per counted trace, in µs: much
    less sensitive to the other jobs on the machine than the rates."""
    values = []
    for run_round in rounds:
        run = run_round.get(key)
        if run is None or any(c is None for c in run.cpu) or not run.counted:
            continue
        values.append(sum(run.cpu) * run.window / run.counted * 1e6)
    if len(values) > 1:  # the spread says whether a difference between runs is noise
        return f"{statistics.median(values):,.0f} ({min(values):,.0f} - {max(values):,.0f})"
    return f"{statistics.median(values):,.0f}" if values else "-"


def _pair(rounds: list[dict[str, Any]], top: str, bottom: str) -> str:
    ratios = [r[top].rate / r[bottom].rate for r in rounds if top in r and bottom in r]
    if not ratios:
        return "-"
    return f"{statistics.median(ratios):.2f}x (rounds: {', '.join(f'{x:.2f}' for x in ratios)})"


def report(args, mean_size, rounds: list[dict[str, Any]], lat, prof) -> None:
    print()
    print(
        f"## Results ({dt.date.today()}, `nproc` = {os.cpu_count()}, Python"
        f" {platform.python_version()}, Kafka 3.9.1, {args.traces:,} traces of"
        f" {mean_size:.0f} B mean, 4 partitions, {len(rounds)} round(s))\n"
    )
    print(
        "| run | traces/s median (min - max) | x strongest | x transactional | x confluent |"
        " CPU us/trace | sends/s | process CPU (1.0 = a core) | broker CPU | machine CPU |"
        " peak RSS MB |"
        " e2e p50 / p99 (scored ts) | e2e p50 / p99 (visible, read_committed) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    last = rounds[-1]
    for key, run in last.items():
        rates = [r[key].rate for r in rounds if key in r]
        latency = visible = "-"
        if key in lat:
            r = lat[key]
            latency = (
                f"{r['send_p50'] * 1000:.0f} / {r['send_p99'] * 1000:.0f} ms @ {r['rate']:,.0f}/s"
            )
            visible = f"{r['vis_p50'] * 1000:.0f} / {r['vis_p99'] * 1000:.0f} ms"
        name = run.name.split(" (round")[0]
        print(
            f"| {name} | {statistics.median(rates):,.0f} ({min(rates):,.0f} - {max(rates):,.0f})"
            f" | {_ratio(rounds, key, PLAIN)} | {_ratio(rounds, key, TRANSACTIONAL)} |"
            f" {_ratio(rounds, key, CONFLUENT)} | {_cpu_per_trace(rounds, key)} |"
            f" {run.sends_rate:,.0f} | {format_values(run.cpu, '{:.2f}')} |"
            f" {format_values([run.broker_cpu], '{:.2f}')} |"
            f" {format_values([run.machine_cpu], '{:.2f}')} |"
            f" {format_values(run.peak_rss_mb, '{:.0f}')} | {latency} | {visible} |"
        )
    print("\n(CPU, RSS and sends/s: the last round.)")
    print(f"2 workers / 1 worker, exactly_once: {_pair(rounds, '2workers', 'default')}")
    print(f"2 workers / 1 worker, at_least_once: {_pair(rounds, 'alo-2workers', 'alo')}")
    for run in last.values():
        if any(code not in (0, None) for code in run.exit_codes):
            print(f"! {run.name}: exit codes {run.exit_codes}")
    for key, r in lat.items():
        print(
            f"latency run {key}: {r['n']:,} traces at {r['rate']:,.0f}/s, peak RSS"
            f" {r['rss']:.0f} MB, visible max {r['vis_max'] * 1000:.0f} ms, pacer behind max"
            f" {r['pacer_behind'] * 1000:.0f} ms, exit {r['exit']}"
        )
    if prof is not None:
        print_profile(args, *prof)


def print_profile(args, rate, raw) -> None:
    samples, rows = hottest(raw, 15)
    print(
        f"\n## Profile: {args.profile_config} config under py-spy (200 Hz, --gil: the thread"
        f" holding the GIL), {rate:,.0f} traces/s while profiled, {samples:,} samples\n"
    )
    print("| # | function (file) | self % | total % |")
    print("|---:|---|---:|---:|")
    for i, (name, self_pct, total_pct) in enumerate(rows, 1):
        print(f"| {i} | `{name}` | {self_pct:.1f} | {total_pct:.1f} |")
    print("\nSelf % of samples by area (each sample once, in its innermost frame's area):")
    for label, pct in by_area(raw, WORKER_AREAS).items():
        print(f"  {label:55s} {pct:5.1f}")
    print("\nInclusive % of samples by area:")
    for needle, pct in inclusive(raw, PROFILE_AREAS).items():
        print(f"  {needle:40s} {pct:5.1f}")
    if args.keep:
        print(f"raw profile: {raw}")
