"""Throughput, latency and memory of the stream worker against a raw aiokafka ceiling.

    .venv/bin/python benchmarks/throughput.py [--traces N] [--quick] [--no-profile]
    .venv/bin/python benchmarks/throughput.py --latency-knobs   # defaults vs LOW_LATENCY only
    .venv/bin/python benchmarks/throughput.py --quick --lexical-vs-default  # encoder tier cost
    .venv/bin/python benchmarks/throughput.py --memory-run --traces 1000000 --run-timeout 3600

Starts its own Kafka broker (free port, temp dir; stopped at the end), publishes N realistic
~1 KB traces (benchmarks/_bench_traces.py) to one 4-partition topic, then measures, each run
with a fresh consumer group and fresh output topics:

1. baseline: raw aiokafka consume -> orjson decode -> produce (benchmarks/_bench_baseline.py);
2. the worker with the operational evaluators only (latency, error, token_usage, cost);
3. the worker with the default evaluator set (+ correctness, safety, context_sufficiency);
4. two worker processes with the default set on the same 4-partition topic;
5./6. 3 and 4 again with EVALSTREAM_PROCESSING_GUARANTEE=at_least_once (no transactions);
then end-to-end latency of 2 and 3 at half their measured rate (a paced producer thread),
and a py-spy profile of 3. Prints markdown tables (pasted into docs/performance.md).

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
import datetime as dt
import os
import platform
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
    hottest,
    inclusive,
    monitor,
    monitor_machine,
    percentile,
    tail,
)
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
OPERATIONAL = "".join(
    f"[evaluators.{name}]\n" for name in ("latency", "error", "token_usage", "cost")
)
# the default set with the quality evaluators on their lexical tier only (issue 14's switch)
LEXICAL_ONLY = OPERATIONAL + "".join(
    f'[evaluators.{name}]\nparams = {{ tiers = "lexical" }}\n'
    for name in ("correctness", "safety", "context_sufficiency")
)


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
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVALSTREAM_")}
        env.update(
            EVALSTREAM_BOOTSTRAP_SERVERS=self.bootstrap,
            EVALSTREAM_INPUT_TOPIC=source,
            EVALSTREAM_SCORED_TOPIC=f"{name}.scored",
            EVALSTREAM_SESSION_TURNS_TOPIC=f"{name}.session-turns",
            EVALSTREAM_SCORED_SESSIONS_TOPIC=f"{name}.scored-sessions",
            EVALSTREAM_METRICS_TOPIC=f"{name}.metrics",
            EVALSTREAM_DLQ_TOPIC=f"{name}.dlq",
            EVALSTREAM_SPANS_TOPIC=f"{name}.spans",
            EVALSTREAM_PARQUET_DIR=str(self.tmp / name / "parquet"),
            EVALSTREAM_CONSUMER_GROUP=f"{name}-workers",
        )
        if config is not None:
            path = self.tmp / f"{name}.toml"
            path.write_text(config)
            env["EVALSTREAM_CONFIG"] = str(path)
        return env

    def fresh(self, label: str) -> str:
        self.seq += 1
        name = f"b{self.seq}-" + re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
        (self.tmp / name).mkdir(parents=True, exist_ok=True)
        return name

    async def launch(self, name: str, cmd: list[str], env: dict[str, str], tag: str):
        log = open(self.tmp / name / f"{tag}.log", "wb")  # noqa: SIM115 - closed by caller
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, cwd=ROOT, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        usage = Usage()
        return proc, usage, asyncio.create_task(monitor(proc.pid, usage)), log

    async def throughput(
        self,
        label: str,
        source: str,
        count: int,
        config: str | None,
        processes: int = 1,
        baseline: bool = False,
        extra: dict[str, str] | None = None,
    ) -> Run:
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
                self.bootstrap,
                source,
                out,
                f"{name}-group",
                str(count),
            ]
            env = dict(os.environ)
        else:
            cmd = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "2"]
            env = self.worker_env(name, source, config) | (extra or {})
        procs = [await self.launch(name, cmd, env, f"p{i}") for i in range(processes)]
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
        """RSS of one worker (default set) over a backlog of ``n`` traces, sampled over time."""
        run = await self.throughput("3 default set, memory run", "traces", n, None)
        [usage] = self.last_usages
        start = usage.rss_mb[0][0]
        step = max(len(usage.rss_mb) // 12, 1)
        series = ", ".join(f"{t - start:.0f}s {mb:.0f}" for t, mb in usage.rss_mb[::step])
        say(f"RSS MB over time: {series}; last {usage.rss_mb[-1][1]:.0f}")
        say(f"peak RSS {usage.peak_rss_mb:.0f} MB over {run.traces:,} traces ({run.rate:,.0f}/s)")

    async def latency_knobs(self, pairs: list[tuple[bytes, bytes]], n: int) -> None:
        """What-if: the default set (exactly-once) with the defaults vs LOW_LATENCY settings.

        Each setting's max rate is measured first; its latency phase paces half of that rate.
        """
        seconds = 8.0 if self.args.quick else 15.0
        rows = []
        for tag, extra in (("defaults", {}), ("low-latency", LOW_LATENCY)):
            run = await self.throughput(f"3 default set, {tag}", "traces", n, None, extra=extra)
            lat = await self.latency(f"lat-{tag}", None, run.rate / 2, seconds, pairs, extra)
            rows.append((tag, run.rate, lat))
        say(
            "| settings | max traces/s | paced at | scored p50 / p99 ms | visible p50 / p99 / max"
            " ms |\n|---|---|---|---|---|"
        )
        for tag, rate, lat in rows:
            used = LOW_LATENCY if tag != "defaults" else {}
            knobs = ", ".join(f"{k[11:].lower()}={v}" for k, v in used.items()) or tag
            say(
                f"| {knobs} | {rate:,.0f} | {lat['rate']:,.0f}/s | {lat['send_p50'] * 1000:.0f} /"
                f" {lat['send_p99'] * 1000:.0f} | {lat['vis_p50'] * 1000:.0f} /"
                f" {lat['vis_p99'] * 1000:.0f} / {lat['vis_max'] * 1000:.0f} |"
            )

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

    async def profile(self, pairs: list[tuple[bytes, bytes]]) -> tuple[float, Path]:
        """Config 3 under py-spy (all threads, on-CPU samples), attached once the worker is up."""
        name = self.fresh("profile")
        source = f"{name}.in"
        self.topics(source, f"{name}.scored", f"{name}.metrics", f"{name}.dlq")
        await self.publish(source, pairs[:50])
        seen = Tail(target=50)
        tailer = asyncio.create_task(
            tail(self.bootstrap, f"{name}.scored", PARTITIONS, seen, keep_keys=False)
        )
        env = self.worker_env(name, source, None)
        cmd = [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", "3"]
        proc, _, mon, log = await self.launch(name, cmd, env, "p0")
        await asyncio.wait_for(seen.reached.wait(), timeout=120)
        say("profile: worker up, attaching py-spy (--gil)")
        raw = self.tmp / name / "pyspy.txt"
        spy = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "py-spy"),
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
        base = "1 baseline (raw aiokafka)"
        runs = [await self.throughput(base, "traces", n, None, baseline=True)]
        runs.append(await self.throughput("2 worker, operational", "traces", n, OPERATIONAL))
        runs.append(await self.throughput("3 worker, default set", "traces", n, None))
        runs.append(await self.throughput("4 = 3 with 2 workers", "traces", n, None, processes=2))
        alo = {"EVALSTREAM_PROCESSING_GUARANTEE": "at_least_once"}
        runs.append(await self.throughput("5 = 3, at_least_once", "traces", n, None, extra=alo))
        runs.append(
            await self.throughput("6 = 5 with 2 workers", "traces", n, None, processes=2, extra=alo)
        )
        seconds = 8.0 if args.quick else 15.0
        lat = {
            "2": await self.latency(
                "lat-operational", OPERATIONAL, runs[1].rate / 2, seconds, pairs
            ),
            "3": await self.latency("lat-default", None, runs[2].rate / 2, seconds, pairs),
        }
        prof = None
        if not args.no_profile:
            prof = await self.profile(pairs)
        report(args, mean_size, runs, lat, prof)

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
            print(f"| {run.name} | {run.rate:,.0f} | {_fmt(run.cpu, '{:.0%}')} |"
                  f" {_fmt(run.peak_rss_mb, '{:.0f}')} |")  # fmt: skip

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()
        if self.broker is not None:
            stop_broker(self.broker)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


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


def _fmt(values: list[float | None], pattern: str) -> str:
    return " + ".join("?" if v is None else pattern.format(v) for v in values)


def report(args, mean_size, runs: list[Run], lat, prof) -> None:
    base = runs[0].rate
    print()
    print(
        f"## Results ({dt.date.today()}, `nproc` = {os.cpu_count()}, Python"
        f" {platform.python_version()}, Kafka 3.9.1, {args.traces:,} traces of"
        f" {mean_size:.0f} B mean, 4 partitions)\n"
    )
    print(
        "| run | traces/s (to commit) | x baseline | sends/s | window s | process CPU"
        " (1.0 = a core) | broker CPU | machine CPU (all processes) | peak RSS MB |"
        " e2e p50 / p99 (scored ts) |"
        " e2e p50 / p99 (visible, read_committed) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for i, run in enumerate(runs):
        key = {1: "2", 2: "3"}.get(i)
        latency = visible = "-"
        if key:
            r = lat[key]
            latency = (
                f"{r['send_p50'] * 1000:.0f} / {r['send_p99'] * 1000:.0f} ms @ {r['rate']:,.0f}/s"
            )
            visible = f"{r['vis_p50'] * 1000:.0f} / {r['vis_p99'] * 1000:.0f} ms"
        print(
            f"| {run.name} | {run.rate:,.0f} | {run.rate / base:.2f} | {run.sends_rate:,.0f} |"
            f" {run.window:.2f} | {_fmt(run.cpu, '{:.2f}')} |"
            f" {_fmt([run.broker_cpu], '{:.2f}')} | {_fmt([run.machine_cpu], '{:.2f}')} |"
            f" {_fmt(run.peak_rss_mb, '{:.0f}')} | {latency} | {visible} |"
        )
    print(
        f"\n2 workers / 1 worker (default set): exactly_once {runs[3].rate / runs[2].rate:.2f}x"
        f" (exit codes {runs[3].exit_codes}, {runs[3].traces:,} traces scored),"
        f" at_least_once {runs[5].rate / runs[4].rate:.2f}x (exit codes {runs[5].exit_codes})"
    )
    for key, r in lat.items():
        print(
            f"latency run config {key}: {r['n']:,} traces at {r['rate']:,.0f}/s, peak RSS"
            f" {r['rss']:.0f} MB, visible max {r['vis_max'] * 1000:.0f} ms, pacer behind max"
            f" {r['pacer_behind'] * 1000:.0f} ms, exit {r['exit']}"
        )
    if prof is not None:
        rate, raw = prof
        samples, rows = hottest(raw, 10)
        print(
            f"\n## Profile: config 3 under py-spy (200 Hz, --gil: the thread holding the GIL),"
            f" {rate:,.0f} traces/s while profiled, {samples:,} samples\n"
        )
        print("| # | function (file) | self % | total % |")
        print("|---:|---|---:|---:|")
        for i, (name, self_pct, total_pct) in enumerate(rows, 1):
            print(f"| {i} | `{name}` | {self_pct:.1f} | {total_pct:.1f} |")
        needles = [
            "decode_trace",
            "evaluators/runner.py",
            "evaluate_batch",
            "to_results",
            "to_message",
            "model_dump",
            "pydantic",
            "_score_agent",
            "_parquet_agent",
            "pipeline/sinks/parquet.py",
            "pipeline/evaluate/windows.py",
            "pipeline/prometheus.py",
            "aiokafka/",
            "faust/",
            "mode/",
        ]
        print("\nInclusive % of samples by area:")
        for needle, pct in inclusive(raw, needles).items():
            print(f"  {needle:40s} {pct:5.1f}")
        if args.keep:
            print(f"raw profile: {raw}")


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
        help="only: default set with default vs low-latency settings (max rate, then latency)",
    )
    args = parser.parse_args()
    if args.traces is None:
        args.traces = 5_000 if args.quick else 20_000
    return args


def main() -> None:
    bench = Bench(parse())
    try:
        asyncio.run(bench.main())
    finally:
        bench.close()


if __name__ == "__main__":
    main()
