"""Throughput, latency and memory of the stream worker against the strongest plain loops.

    .venv/bin/python benchmarks/throughput.py [--traces N] [--quick] [--no-profile]
        [--runs strong,transactional,operational,...] [--repeat R] [--no-latency]
        [--profile-config operational|default] [--compare-root DIR] [--keep]
    .venv/bin/python benchmarks/throughput.py --latency-knobs   # only: defaults vs KNOB_SETS
    .venv/bin/python benchmarks/throughput.py --quick --lexical-vs-default  # encoder tier cost
    .venv/bin/python benchmarks/throughput.py --sessions-compare --traces 10000  # session stage
    .venv/bin/python benchmarks/throughput.py --memory-run --traces 1000000 --run-timeout 3600

Starts its own Kafka broker (free port, temp dir; stopped at the end), publishes N realistic
~1 KB traces (benchmarks/_bench_traces.py) to one 4-partition topic (and 4 x N to a second
one for the plain loops, which are 10-20x faster), then runs each of ``--runs`` (default: all
but the ``*-before`` ones) with a fresh consumer group and fresh output topics, in R rounds:

- strong / transactional / throttled / confluent / confluent-tx: the plain consume ->
  orjson decode/encode -> produce loops of benchmarks/_bench_baseline.py (the strongest
  aiokafka loop, its transactional twin, the old throttled loop, confluent-kafka's);
- operational: the worker with the operational evaluators only (latency, error, token_usage,
  cost); default: the default evaluator set (+ correctness, safety, context_sufficiency);
- default-pool1 / default-pool2: the default set with its quality evaluators in 1 or 2
  evaluator processes (EVALSTREAM_EVALUATOR_PROCESSES; their CPU and RSS are the worker's);
- 2workers: two worker processes, default set; alo / alo-2workers: the same two with
  EVALSTREAM_PROCESSING_GUARANTEE=at_least_once (no transactions);
- operational-before / default-before: the worker of another checkout (--compare-root), for
  a before/after in one run;
then end-to-end latency of operational and default at half their measured rate (a paced
producer thread), and a py-spy profile of --profile-config. Prints markdown tables
(benchmarks/_bench_report.py; pasted into docs/performance.md), ratios per round against the
loops of the same round.

How time is measured: a read_committed consumer in this process tails each run's output
topic. t0 = CreateTime of the first output record (the worker sets it when it sends, so faust
start-up and group join are excluded); the records of that first send burst are not counted
(they were processed before t0). t1 = wall time at which the last record became visible to the
read_committed consumer, so the final transaction commit is included. "sends/s" is the same
count over [t0, last record CreateTime], i.e. without waiting for the last commit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import logging  # noqa: E402

import orjson  # noqa: E402
from _bench_probe import (  # noqa: E402
    Pacer,
    Tail,
    Usage,
    first_burst,
    monitor,
    monitor_machine,
    percentile,
    tail,
)
from _bench_report import format_values, report  # noqa: E402
from _bench_traces import encoded  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402
from kafka import KafkaAdminClient  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from evaluators.registry import DEFAULT_SESSION_EVALUATORS as SESSION_DEFAULTS  # noqa: E402
from pipeline.kafka.broker import free_port, start_broker, stop_broker  # noqa: E402

PARTITIONS = 4
# the worker's commit timer ticks every 0.25 s: a shorter commit interval would not commit sooner
LOW_LATENCY = {
    "EVALSTREAM_COMMIT_INTERVAL_SECONDS": "0.25",
    "EVALSTREAM_BATCH_TIMEOUT_SECONDS": "0.1",
}
KNOB_SETS = {  # --latency-knobs: commit interval / batch wait
    "defaults": {},
    "commit 1.0 s, batch wait 0.5 s (the defaults before issue 20)": {
        "EVALSTREAM_COMMIT_INTERVAL_SECONDS": "1.0",
        "EVALSTREAM_BATCH_TIMEOUT_SECONDS": "0.5",
    },
    "commit 0.25 s, batch wait 0.1 s": LOW_LATENCY,
}
OPERATIONAL = "".join(
    f"[evaluators.{name}]\n" for name in ("latency", "error", "token_usage", "cost")
)
# the default set with the quality evaluators on their lexical tier only (issue 14's switch)
LEXICAL_ONLY = OPERATIONAL + "".join(
    f'[evaluators.{name}]\nparams = {{ tiers = "lexical" }}\n'
    for name in ("correctness", "safety", "context_sufficiency")
)
PLAIN_FACTOR = 4  # the plain loops read the same traces published 4 times
AT_LEAST_ONCE = {"EVALSTREAM_PROCESSING_GUARANTEE": "at_least_once"}
GLIBC_MALLOC = {"EVALSTREAM_MALLOC_MMAP_THRESHOLD_BYTES": "0", "EVALSTREAM_MALLOC_ARENA_MAX": "0"}
# --runs keys -> (label, options of Bench.throughput); the plain loops are _bench_baseline.py's
CONFIGS: dict[str, tuple[str, dict]] = {
    "strong": ("1 plain aiokafka, strongest", {"baseline": "strong"}),
    "transactional": ("1t plain aiokafka, transactional", {"baseline": "transactional"}),
    "throttled": ("1x plain aiokafka, throttled (before)", {"baseline": "throttled"}),
    "confluent": ("1c plain confluent-kafka", {"baseline": "confluent"}),
    "confluent-tx": (
        "1ct plain confluent-kafka, transactional",
        {"baseline": "confluent-transactional"},
    ),
    "operational": ("2 worker, operational", {"config": OPERATIONAL}),
    "operational-before": (
        "2b worker, operational, --compare-root checkout",
        {"config": OPERATIONAL, "before": True},
    ),
    "operational-glibc-malloc": (
        "2g = 2 with glibc's malloc defaults (no tune_malloc)",
        {"config": OPERATIONAL, "extra": GLIBC_MALLOC},
    ),
    "default": ("3 worker, default set", {}),
    "default-before": ("3b worker, default set, --compare-root checkout", {"before": True}),
    "default-pool1": (
        "3p1 = 3 with 1 evaluator process",
        {"extra": {"EVALSTREAM_EVALUATOR_PROCESSES": "1"}},
    ),
    "default-pool2": (
        "3p2 = 3 with 2 evaluator processes",
        {"extra": {"EVALSTREAM_EVALUATOR_PROCESSES": "2"}},
    ),
    "default-lexical": (
        "3l = 3 with its quality evaluators on the lexical tier",
        {"config": LEXICAL_ONLY},
    ),
    "default-no-sessions": (
        "3n = 3 with the session stage off",
        {"extra": {"EVALSTREAM_SESSIONS_ENABLED": "false"}},
    ),
    "default-arenas2": ("3m = 3 with MALLOC_ARENA_MAX=2", {"extra": {"MALLOC_ARENA_MAX": "2"}}),
    "default-glibc-malloc": (
        "3g = 3 with glibc's malloc defaults (no tune_malloc)",
        {"extra": GLIBC_MALLOC},
    ),
    "default-gc-probe": (
        "3gc = 3 with a full gc.collect() at each --memprof report",
        {"extra": {"EVALSTREAM_BENCH_GC_COLLECT": "1"}},
    ),
    "default-arrow-system": (
        "3as = 3 with pyarrow on the system allocator",
        {"extra": {"ARROW_DEFAULT_MEMORY_POOL": "system"}},
    ),
    "default-trim-probe": (
        "3tp = 3 with malloc_trim every second (--memprof's probe)",
        {"extra": {"EVALSTREAM_BENCH_MALLOC_TRIM_SECONDS": "1"}},
    ),
    "default-mmap128k": (
        "3mm = 3 with glibc's mmap threshold fixed at 128 KiB",
        {"extra": {"MALLOC_MMAP_THRESHOLD_": "131072"}},
    ),
    "default-mmap128k-arenas2": (
        "3mm2 = 3mm with MALLOC_ARENA_MAX=2",
        {"extra": {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}},
    ),
    "2workers": ("4 = 3 with 2 workers", {"processes": 2}),
    "alo": ("5 = 3, at_least_once", {"extra": AT_LEAST_ONCE}),
    "alo-2workers": ("6 = 5 with 2 workers", {"processes": 2, "extra": AT_LEAST_ONCE}),
}


def worker_env(
    bootstrap: str, tmp: Path, name: str, source: str, config: str | None
) -> dict[str, str]:
    """A benchmark worker's environment: its own output topics, group and Parquet directory
    under ``tmp``, reading ``source``; ``config`` (TOML text) written beside them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
    env.update(
        EVALSTREAM_BOOTSTRAP_SERVERS=bootstrap,
        EVALSTREAM_INPUT_TOPIC=source,
        EVALSTREAM_SCORED_TOPIC=f"{name}.scored",
        EVALSTREAM_METRICS_TOPIC=f"{name}.metrics",
        EVALSTREAM_DLQ_TOPIC=f"{name}.dlq",
        EVALSTREAM_SPANS_TOPIC=f"{name}.spans",
        # per run too: a shared session-turns topic made each later run's session stage
        # read (and score) every earlier run's turns as well, and its sessions dataset
        # hold every earlier run's scored sessions
        EVALSTREAM_SESSION_TURNS_TOPIC=f"{name}.session-turns",
        EVALSTREAM_SCORED_SESSIONS_TOPIC=f"{name}.scored-sessions",
        EVALSTREAM_PARQUET_DIR=str(tmp / name / "parquet"),
        EVALSTREAM_CONSUMER_GROUP=f"{name}-workers",
    )
    if config is not None:
        path = tmp / f"{name}.toml"
        path.write_text(config)
        env["EVALSTREAM_CONFIG"] = str(path)
    return env


@dataclass
class Run:
    name: str
    traces: int
    rate: float
    sends_rate: float
    window: float
    cpu: list[float | None]
    broker_cpu: float | None
    machine_cpu: float | None
    peak_rss_mb: list[float]
    exit_codes: list[int | None]
    counted: int = 0  # records in the window (traces minus the first burst)
    t0: float = 0.0  # wall time of the window's start


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="evalstream-bench-"))
        self.broker = None
        self.bootstrap = ""
        self.admin: KafkaAdminClient | None = None
        self.seq = 0
        self.last_usages: list = []  # the Usage of each process of the last throughput run

    def topics(self, *names: str) -> None:
        """Create the topics and wait until every partition has a leader."""
        assert self.admin is not None
        self.admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            described = self.admin.describe_topics(list(names))
            if all(
                len(t["partitions"]) == PARTITIONS
                and all(p.get("leader_id", -1) >= 0 for p in t["partitions"])
                for t in described
            ):
                return
            time.sleep(0.1)

    async def publish(self, topic: str, pairs: list[tuple[bytes, bytes]]) -> float:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", linger_ms=10, max_batch_size=256 * 1024
        )
        await producer.start()
        started = time.monotonic()
        try:
            futures = [await producer.send(topic, v, key=k) for k, v in pairs]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        return time.monotonic() - started

    def worker_env(self, name: str, source: str, config: str | None) -> dict[str, str]:
        return worker_env(self.bootstrap, self.tmp, name, source, config)

    def memprof_env(self, name: str) -> dict[str, str]:
        """--memprof DIR: the worker loads benchmarks/_memprof/sitecustomize.py, which writes
        its memory (RSS, malloc, and with --memprof-frames the Python heap) to DIR/<run>."""
        if self.args.memprof is None:
            return {}
        path = [str(ROOT / "benchmarks" / "_memprof"), os.environ.get("PYTHONPATH", "")]
        return {
            "PYTHONPATH": os.pathsep.join(p for p in path if p),
            "EVALSTREAM_BENCH_MEMPROF": str(self.args.memprof / name),
            "EVALSTREAM_BENCH_MEMPROF_FRAMES": str(self.args.memprof_frames),
            "EVALSTREAM_BENCH_MEMPROF_SECONDS": str(self.args.memprof_seconds),
            "EVALSTREAM_BENCH_MEMPROF_START": str(self.args.memprof_start),
        }

    def fresh(self, label: str) -> str:
        self.seq += 1
        name = f"b{self.seq}-" + re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
        (self.tmp / name).mkdir(parents=True, exist_ok=True)
        return name

    async def launch(
        self, name: str, cmd: list[str], env: dict[str, str], tag: str, root: Path = ROOT
    ):
        log = open(self.tmp / name / f"{tag}.log", "wb")  # noqa: SIM115 - closed by caller
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=root, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        usage = Usage()
        return proc, usage, asyncio.create_task(monitor(proc.pid, usage)), log

    async def throughput(
        self,
        label: str,
        source: str,
        count: int,
        config: str | None = None,
        processes: int = 1,
        baseline: str | None = None,
        extra: dict[str, str] | None = None,
        before: bool = False,
    ) -> Run:
        """One run; ``baseline`` names a loop of _bench_baseline.py instead of the worker."""
        name = self.fresh(label)
        out = f"{name}.out" if baseline else f"{name}.scored"
        self.topics(out, *([] if baseline else [f"{name}.metrics", f"{name}.dlq"]))
        seen = Tail(target=count)
        tailer = asyncio.create_task(tail(self.bootstrap, out, PARTITIONS, seen, keep_keys=False))
        broker_usage = Usage()
        broker_mon = asyncio.create_task(monitor(self.broker.pid, broker_usage, 0.25))
        machine = Usage()
        machine_mon = asyncio.create_task(monitor_machine(machine))
        if baseline:
            cmd = [
                sys.executable,
                str(ROOT / "benchmarks" / "_bench_baseline.py"),
                baseline,
                self.bootstrap,
                source,
                out,
                f"{name}-group",
                str(count),
            ]
            env = dict(os.environ, PYTHONPATH=str(ROOT / "benchmarks"))
        else:
            cmd = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "2"]
            env = self.worker_env(name, source, config) | (extra or {}) | self.memprof_env(name)
        # -m pipeline.cli from another checkout's root imports that checkout's code (the
        # current directory comes first on sys.path): an A/B of two versions in one run
        root = self.args.compare_root if before else ROOT
        procs = [await self.launch(name, cmd, env, f"p{i}", root) for i in range(processes)]
        self.last_usages = [usage for _, usage, _, _ in procs]
        if not await until_done(seen, [p for p, *_ in procs], self.args.run_timeout):
            say(f"! {label}: only {seen.count}/{count} records (processes exited or timeout)")
        codes = []
        for proc, _, mon, log in procs:
            try:
                codes.append(await asyncio.wait_for(proc.wait(), timeout=60))
            except TimeoutError:
                codes.append(await stop(proc))
            await mon
            log.close()
        broker_mon.cancel()
        machine_mon.cancel()
        tailer.cancel()
        t0_ms, burst = first_burst(seen.timestamps)
        t0, t1 = t0_ms / 1000, seen.last_arrival
        n = seen.count - burst
        last_send = max(seen.timestamps) / 1000
        run = Run(
            name=label,
            traces=seen.count,
            rate=n / (t1 - t0),
            sends_rate=n / max(last_send - t0, 1e-3),
            window=t1 - t0,
            cpu=[u.cpu_between(t0, t1) for _, u, _, _ in procs],
            broker_cpu=broker_usage.cpu_between(t0, t1),
            machine_cpu=machine.cpu_between(t0, t1),
            peak_rss_mb=[u.peak_rss_mb for _, u, _, _ in procs],
            exit_codes=codes,
            counted=n,
            t0=t0,
        )
        say(
            f"{label}: {run.rate:,.0f} traces/s over {run.window:.2f}s"
            f" (sends {run.sends_rate:,.0f}/s), exit {codes}"
        )
        return run

    async def latency(
        self,
        label: str,
        config: str | None,
        rate: float,
        seconds: float,
        pairs: list[tuple[bytes, bytes]],
        extra: dict[str, str] | None = None,
    ) -> dict[str, float]:
        """p50/p99 produce -> scored record CreateTime, and produce -> read_committed visible."""
        name = self.fresh(label)
        source = f"{name}.in"
        self.topics(source, f"{name}.scored", f"{name}.metrics", f"{name}.dlq")
        warm = pairs[:50]
        await self.publish(source, warm)  # the worker proves it is up by scoring these
        seen = Tail(target=len(warm))
        tailer = asyncio.create_task(
            tail(self.bootstrap, f"{name}.scored", PARTITIONS, seen, keep_keys=True)
        )
        env = {**self.worker_env(name, source, config), **(extra or {})}
        cmd = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "5"]
        proc, usage, mon, log = await self.launch(name, cmd, env, "p0")
        await asyncio.wait_for(seen.reached.wait(), timeout=120)
        say(f"{label}: worker up, pacing {rate:,.0f}/s for {seconds:.0f}s")
        pacer = Pacer(self.bootstrap, source, pairs, rate, seconds, prefix=f"{name}-")
        seen.target, seen.reached = len(warm) + int(rate * seconds), asyncio.Event()
        pacer.start()
        try:
            await asyncio.wait_for(seen.reached.wait(), timeout=seconds + self.args.run_timeout)
        except TimeoutError:
            say(f"! {label}: only {seen.count}/{seen.target} records")
        pacer.join()
        code = await proc.wait()
        await mon
        log.close()
        tailer.cancel()
        to_send, to_visible = [], []
        for key, ts, arrival in zip(seen.keys, seen.timestamps, seen.arrivals, strict=True):
            sent = pacer.sent_at.get(key)
            if sent is not None:
                to_send.append(ts / 1000 - sent)
                to_visible.append(arrival - sent)
        result = {
            "rate": rate,
            "n": len(to_send),
            "exit": code,
            "rss": usage.peak_rss_mb,
            "send_p50": percentile(to_send, 50),
            "send_p99": percentile(to_send, 99),
            "vis_p50": percentile(to_visible, 50),
            "vis_p99": percentile(to_visible, 99),
            "vis_max": max(to_visible),
            "pacer_behind": pacer.behind_max,
        }
        say(
            f"{label} @ {rate:,.0f}/s: scored p50 {result['send_p50'] * 1000:.0f} ms"
            f" p99 {result['send_p99'] * 1000:.0f} ms; visible p50"
            f" {result['vis_p50'] * 1000:.0f} ms p99 {result['vis_p99'] * 1000:.0f} ms"
        )
        return result

    async def memory_run(self, n: int) -> None:
        """RSS of one worker over a backlog of ``n`` traces, sampled over time, for each of
        ``--memory-runs`` (the default set; with ``--compare-root`` also the other checkout's),
        interleaved over ``--repeat`` rounds."""
        rows = []
        for round_ in range(self.args.repeat):
            for key in self.args.memory_runs:
                label, options = CONFIGS[key]
                label = f"{label}, memory run" + (f" (round {round_ + 1})" if round_ else "")
                run = await self.throughput(label, "traces", n, **options)
                [usage] = self.last_usages
                start = usage.rss_mb[0][0]
                step = max(len(usage.rss_mb) // 12, 1)
                series = ", ".join(f"{t - start:.0f}s {mb:.0f}" for t, mb in usage.rss_mb[::step])
                say(f"RSS MB over time: {series}; last {usage.rss_mb[-1][1]:.0f}")
                say(f"peak RSS {usage.peak_rss_mb:.0f} MB over {run.traces:,} traces"
                    f" ({run.rate:,.0f}/s)")  # fmt: skip
                quarters = [_rss_at(usage, run, q) for q in (1, 2, 3, 4)]
                rows.append((label, quarters, usage.peak_rss_mb, run))
        print("\n| run | RSS MB at 1/4 / 1/2 / 3/4 / end of the scoring window | peak RSS MB"
              " (VmHWM) | traces/s |\n|---|---|---:|---:|")  # fmt: skip
        for label, quarters, peak, run in rows:
            print(f"| {label} | {' / '.join(f'{q:.0f}' for q in quarters)} | {peak:.0f} |"
                  f" {run.rate:,.0f} |")  # fmt: skip

    async def latency_knobs(self, pairs: list[tuple[bytes, bytes]], n: int) -> None:
        """What-if: --knobs-config (exactly-once) with each of KNOB_SETS.

        Each setting's max rate is measured first; its latency phase paces half of that rate.
        """
        seconds = 8.0 if self.args.quick else 15.0
        rows = []
        label, options = CONFIGS[self.args.knobs_config]
        config = options.get("config")
        for tag, extra in KNOB_SETS.items():
            run = await self.throughput(f"{label}, {tag}", "traces", n, config, extra=extra)
            lat = await self.latency(f"lat-{tag}", config, run.rate / 2, seconds, pairs, extra)
            rows.append((tag, run.rate, lat))
        say(
            "| settings | max traces/s | paced at | scored p50 / p99 ms | visible p50 / p99 / max"
            " ms |\n|---|---|---|---|---|"
        )
        for tag, rate, lat in rows:
            say(
                f"| {tag} | {rate:,.0f} | {lat['rate']:,.0f}/s | {lat['send_p50'] * 1000:.0f} /"
                f" {lat['send_p99'] * 1000:.0f} | {lat['vis_p50'] * 1000:.0f} /"
                f" {lat['vis_p99'] * 1000:.0f} / {lat['vis_max'] * 1000:.0f} |"
            )

    async def profile(
        self, pairs: list[tuple[bytes, bytes]], config: str | None
    ) -> tuple[float, Path]:
        """A worker under py-spy (--gil: the thread holding the GIL), attached once it is up."""
        name = self.fresh("profile")
        source = f"{name}.in"
        self.topics(source, f"{name}.scored", f"{name}.metrics", f"{name}.dlq")
        await self.publish(source, pairs[:50])
        seen = Tail(target=50)
        tailer = asyncio.create_task(
            tail(self.bootstrap, f"{name}.scored", PARTITIONS, seen, keep_keys=False)
        )
        env = self.worker_env(name, source, config)
        cmd = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "3"]
        proc, _, mon, log = await self.launch(name, cmd, env, "p0")
        await asyncio.wait_for(seen.reached.wait(), timeout=120)
        say("profile: worker up, attaching py-spy (--gil)")
        raw = self.tmp / name / "pyspy.txt"
        spy = await asyncio.create_subprocess_exec(
            shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--pid",
            str(proc.pid),
            "--function",
            "--gil",
            "--format",
            "raw",
            "--rate",
            "200",
            "--output",
            str(raw),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(1.0)
        started = time.monotonic()
        seen.target, seen.reached = 50 + len(pairs), asyncio.Event()
        await self.publish(source, pairs)
        await asyncio.wait_for(seen.reached.wait(), timeout=self.args.run_timeout)
        elapsed = time.monotonic() - started
        await proc.wait()
        await spy.wait()
        await mon
        log.close()
        tailer.cancel()
        return len(pairs) / elapsed, raw

    async def main(self) -> None:
        args = self.args
        logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries while leaders settle
        say(f"temp dir {self.tmp}; generating {args.traces:,} traces")
        pairs = encoded(args.traces)
        mean_size = sum(len(v) for _, v in pairs) / len(pairs)
        self.broker = start_broker(port=free_port(), data_dir=self.tmp / "broker")
        self.bootstrap = self.broker.bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        self.topics("traces")
        publish_s = await self.publish("traces", pairs)
        say(f"published {len(pairs):,} traces ({mean_size:.0f} B mean) in {publish_s:.1f}s")
        n = args.traces
        if args.latency_knobs:
            await self.latency_knobs(pairs, n)
            return
        if args.memory_run:
            await self.memory_run(n)
            return
        if args.lexical_vs_default:
            await self.lexical_vs_default(n)
            return
        if args.sessions_compare:
            await self.sessions_compare(pairs, n)
            return
        plain = [key for key in args.runs if "baseline" in CONFIGS[key][1]]
        if plain:  # the plain loops are ~10-20x faster: a longer topic keeps their window > 1 s
            self.topics("traces-x4")
            await self.publish("traces-x4", pairs * PLAIN_FACTOR)
        rounds: list[dict[str, Run]] = []
        for round_ in range(args.repeat):  # interleaved, so every config sees the same noise
            runs: dict[str, Run] = {}
            for key in args.runs:
                label, options = CONFIGS[key]
                if args.repeat > 1:
                    label = f"{label} (round {round_ + 1})"
                if "baseline" in options:
                    runs[key] = await self.throughput(
                        label, "traces-x4", n * PLAIN_FACTOR, **options
                    )
                else:
                    runs[key] = await self.throughput(label, "traces", n, **options)
            rounds.append(runs)
        seconds = 8.0 if args.quick else 15.0
        lat = {}
        last = rounds[-1]
        for key, name in (("operational", "lat-operational"), ("default", "lat-default")):
            if key in last and not args.no_latency:
                config = CONFIGS[key][1].get("config")
                lat[key] = await self.latency(name, config, last[key].rate / 2, seconds, pairs)
        prof = None
        if not args.no_profile:
            config = CONFIGS[args.profile_config][1].get("config")
            prof = await self.profile(pairs, config)
        report(args, mean_size, rounds, lat, prof)

    async def lexical_vs_default(self, n: int) -> None:
        """What-if: one worker, the default set vs the same set with the quality evaluators on
        their lexical tier only (``tiers = "lexical"``), alternating, twice each."""
        rates: dict[str, list[float]] = {"lexical-only": [], "default": []}
        for rep in range(2):
            for tag, config in (("lexical-only", LEXICAL_ONLY), ("default", None)):
                run = await self.throughput(f"3 default set, {tag} #{rep + 1}", "traces", n, config)
                rates[tag].append(run.rate)
        lexical, default = (max(rates[k]) for k in ("lexical-only", "default"))
        say(
            f"lexical-only {', '.join(f'{r:,.0f}' for r in rates['lexical-only'])} traces/s; "
            f"default {', '.join(f'{r:,.0f}' for r in rates['default'])} traces/s; best "
            f"default / best lexical-only = {default / lexical:.2f}"
        )

    async def sessions_compare(self, pairs: list[tuple[bytes, bytes]], n: int) -> None:
        """The cost of the session stage: the operational set with sessions off, then on, over
        the bench traces (one turn per session: the worst case for state) and over the same
        traces grouped into sessions of 8 turns."""
        grouped = []
        for i, (key, value) in enumerate(pairs):
            trace = orjson.loads(value)
            trace["tags"]["session_id"] = f"conv-{i // 8:06d}"
            grouped.append((key, orjson.dumps(trace)))
        self.topics("traces-8")
        await self.publish("traces-8", grouped)
        off = {"EVALSTREAM_SESSIONS_ENABLED": "false"}
        config = OPERATIONAL + "".join(f"[evaluators.{name}]\n" for name in SESSION_DEFAULTS)
        runs = [
            await self.throughput("sessions off", "traces", n, config, extra=off),
            await self.throughput("sessions on, 1 turn each", "traces", n, config),
            await self.throughput("sessions off, 8 turns", "traces-8", n, config, extra=off),
            await self.throughput("sessions on, 8 turns", "traces-8", n, config),
        ]
        print("\n| run (operational set, 1 worker) | traces/s | worker CPU | peak RSS MB |")
        print("|---|---:|---:|---:|")
        for run in runs:
            print(f"| {run.name} | {run.rate:,.0f} | {format_values(run.cpu, '{:.0%}')} |"
                  f" {format_values(run.peak_rss_mb, '{:.0f}')} |")  # fmt: skip

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if self.broker is not None:
            stop_broker(self.broker)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _rss_at(usage: Usage, run: Run, quarter: int) -> float:
    """The current RSS sampled nearest to ``quarter``/4 of the way through the run's scoring
    window [t0, t1]."""
    when = run.t0 + run.window * quarter / 4
    return min(usage.rss_mb, key=lambda sample: abs(sample[0] - when))[1]


async def until_done(seen: Tail, procs: list, timeout: float) -> bool:
    """Wait until the tailer saw its target; give up early when every process has exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await asyncio.wait_for(seen.reached.wait(), timeout=0.5)
            return True
        except TimeoutError:
            if all(p.returncode is not None for p in procs):
                await asyncio.sleep(2)  # a last commit may still be on its way
                return seen.reached.is_set()
    return False


async def stop(proc) -> int:
    """SIGTERM a process that did not exit by itself; SIGKILL it 15 s later."""
    proc.terminate()
    try:
        return await asyncio.wait_for(proc.wait(), timeout=15)
    except TimeoutError:
        proc.kill()
        return await proc.wait()


T0 = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {text}", flush=True)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=None, help="default 20,000 (quick 5,000)")
    parser.add_argument("--quick", action="store_true", help="5,000 traces, 8 s latency phases")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy run")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, profile)")
    parser.add_argument("--run-timeout", type=float, default=180.0)
    parser.add_argument(
        "--memory-run",
        action="store_true",
        help="only: one worker (default set) over --traces, RSS sampled over time",
    )
    parser.add_argument(
        "--lexical-vs-default",
        action="store_true",
        help="only: default set vs its quality evaluators on the lexical tier (tiers=lexical)",
    )
    parser.add_argument(
        "--sessions-compare",
        action="store_true",
        help="only: operational set with the session stage off vs on (docs/sessions.md)",
    )
    parser.add_argument(
        "--latency-knobs",
        action="store_true",
        help="only: default set with the defaults and KNOB_SETS (max rate, then latency)",
    )
    parser.add_argument(
        "--runs",
        default=",".join(default_runs()),
        help=f"comma-separated, in order, of: {', '.join(CONFIGS)} (default: all;"
        " the confluent ones when confluent-kafka is installed)",
    )
    parser.add_argument(
        "--compare-root",
        type=Path,
        help="a checkout of another version (e.g. git worktree add --detach DIR main): the"
        " *-before runs start their worker from there, with this venv",
    )
    parser.add_argument(
        "--memory-runs",
        default=None,
        help="with --memory-run: comma-separated --runs keys of worker configs (default:"
        " default, and default-before with --compare-root)",
    )
    parser.add_argument(
        "--memprof",
        type=Path,
        help="the workers write their memory every --memprof-seconds to DIR/<run>/"
        " (benchmarks/_memprof/sitecustomize.py)",
    )
    parser.add_argument("--memprof-seconds", type=float, default=30.0)
    parser.add_argument(
        "--memprof-start", type=float, default=0.0, help="start tracemalloc this late (s)"
    )
    parser.add_argument(
        "--memprof-frames",
        type=int,
        default=0,
        help="with --memprof: tracemalloc with N frames (0: off; slows the worker 2-3x)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of --runs, interleaved")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency phases")
    parser.add_argument(
        "--knobs-config",
        choices=("operational", "default"),
        default="default",
        help="the evaluator set of --latency-knobs",
    )
    parser.add_argument("--profile-config", choices=("operational", "default"), default="default")
    args = parser.parse_args()
    if args.traces is None:
        args.traces = 5_000 if args.quick else 20_000
    args.runs = [key.strip() for key in args.runs.split(",") if key.strip()]
    unknown = [key for key in args.runs if key not in CONFIGS]
    if unknown:
        parser.error(f"unknown --runs {unknown}; choose from {list(CONFIGS)}")
    if args.memory_runs is None:
        args.memory_runs = "default" + (",default-before" if args.compare_root else "")
    args.memory_runs = [key.strip() for key in args.memory_runs.split(",") if key.strip()]
    bad = [key for key in args.memory_runs if key not in CONFIGS or "baseline" in CONFIGS[key][1]]
    if bad:
        parser.error(f"--memory-runs takes worker configs, not {bad}")
    if any(key.endswith("-before") for key in args.runs + args.memory_runs) and (
        args.compare_root is None
    ):
        parser.error("the *-before runs need --compare-root")
    return args


def default_runs() -> list[str]:
    keys = [key for key in CONFIGS if not key.endswith("-before")]
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return [key for key in keys if not key.startswith("confluent")]
    return keys


def main() -> None:
    bench = Bench(parse())
    try:
        asyncio.run(bench.main())
    finally:
        bench.close()


if __name__ == "__main__":
    main()
