"""Throughput and latency of the OTLP receiver (HTTP and gRPC) against a raw aiokafka ceiling.

    .venv/bin/python benchmarks/ingest.py [--seconds 20] [--clients 4] [--spans-per-request 200]
    .venv/bin/python benchmarks/ingest.py --quick  # ~1 min: every phase once, docs untouched

Starts its own Kafka broker (free port, temp dir; stopped at the end) and ``evalstream
receiver`` in a subprocess (``python -m pipeline.cli receiver``), builds realistic protobuf
``ExportTraceServiceRequest`` bodies (benchmarks/_ingest_otlp.py: 200 spans over 20 traces,
GenAI semconv + OpenInference attributes, ~800 B per span, fresh trace ids per request), then:

a. baseline: a raw aiokafka producer (acks=all, idempotent, linger 5 ms: the receiver's
   settings) publishes the messages the receiver would publish (one per trace id, the
   receiver's own split and encoding) from ``--clients`` tasks, each awaiting every ack of one
   "request" before the next; spans/s.
a2. what-if: the same baseline with ``max_batch_size`` = 1 MiB (aiokafka default 16 KiB).
b. the receiver with ``--clients`` concurrent HTTP clients (aiohttp, keep-alive) posting
   requests back to back for ``--seconds``: accepted spans/s (200 answers only; 429/503
   counted apart), request latency p50/p99, ratio to the baseline.
   a, a2 and b run interleaved in ``--rounds`` short rounds (same background load for all).
b'. the same load over OTLP/gRPC: ``--clients`` concurrent ``TraceService/Export`` calls on one
   channel, interleaved with a, a2 and b.
b2. the receiver with ``--saturation-clients`` (16) clients: its ceiling, not a target.
c. an open-loop sender at half of b's request rate for ``--seconds``: latency p50/p99 measured
   from each request's scheduled send time.
d. durability: the spans topic is read back; every trace id of every 200 answer must be there
   and its message count must equal the traces accepted.
e. when a target is missed (or with --profile): py-spy on the receiver under the load of b.

Each load phase is preceded by a 2 s warm-up that is not measured. All processes share the
machine: the load generator (this process), the receiver and the broker compete for the same
cores, and the CPU each used is reported. Writes its results into docs/performance.md,
section "Ingest (OTLP receiver)" (between markers; text outside them is kept); --no-docs skips.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _ingest_load import (  # noqa: E402
    Baseline,
    CpuMeter,
    LoadStats,
    TopicContents,
    closed_loop,
    end_offsets,
    grpc_closed_loop,
    hot_spots,
    inclusive,
    paced,
    percentile,
    pyspy_record,
    scan_topic,
)
from _ingest_otlp import Template, make_templates, split_messages  # noqa: E402
from _ingest_report import (  # noqa: E402
    DOC,
    HEADING,
    MARKS,
    PARTITIONS,
    TARGET_P99_MS,
    TARGET_SPANS,
    WARMUP,
    render_report,
    write_doc,
)
from kafka import KafkaAdminClient  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from pipeline.kafka.broker import free_port, start_broker, stop_broker  # noqa: E402

BIG_BATCH = 1024 * 1024
SPANS_TOPIC = "otlp_spans_bench"
BASELINE_TOPIC = "otlp_spans_baseline"


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Phase:
    name: str
    stats: LoadStats
    cpu: dict[str, float] = field(default_factory=dict)


@dataclass
class Profile:
    samples: int
    idle: float
    seconds: int
    rate_under_profile: float
    rows: list[tuple[str, float, float]]
    buckets: list[tuple[str, float]]
    marks: dict[str, float]
    raw: Path


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="evalstream-ingest-bench-"))
        self.counter = itertools.count(1)
        self.broker = None
        self.receiver: subprocess.Popen | None = None
        self.accepted: list[tuple[int, int]] = []  # (template, seq) of every 200 answer
        self.phases: dict[str, Phase] = {}
        self.profile: Profile | None = None
        self.durability: dict[str, object] = {}
        self.background = 0.0
        self.total_seconds = 0.0

    # -- processes -------------------------------------------------------------------------

    def start_broker(self) -> None:
        say("starting Kafka broker")
        self.broker = start_broker(port=free_port(), data_dir=self.tmp / "broker", heap="1g")
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        try:
            admin.create_topics([NewTopic(BASELINE_TOPIC, PARTITIONS, 1)])
        finally:
            admin.close()
        say(f"broker up at {self.broker.bootstrap}")

    def start_receiver(self) -> None:
        assert self.broker is not None
        self.port = free_port()
        self.grpc_port = free_port(exclude={self.port})
        env = {
            **os.environ,
            "EVALSTREAM_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "EVALSTREAM_SPANS_TOPIC": SPANS_TOPIC,
            "EVALSTREAM_TOPIC_PARTITIONS": str(PARTITIONS),
            "EVALSTREAM_LOG_LEVEL": "WARNING",
            "EVALSTREAM_METRICS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("EVALSTREAM_RECEIVER_TOKEN", None)
        self.receiver_log = self.tmp / "receiver.log"
        with open(self.receiver_log, "wb") as log:
            self.receiver = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "receiver", "--http-port", str(self.port),
                 "--grpc-port", str(self.grpc_port)],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}/v1/traces"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.receiver.poll() is not None:
                raise SystemExit(f"receiver exited:\n{self.receiver_log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        say(f"receiver up on port {self.port} (pid {self.receiver.pid})")
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("receiver did not become healthy within 60 s")

    def stop_all(self) -> None:
        if self.receiver is not None and self.receiver.poll() is None:
            self.receiver.send_signal(signal.SIGTERM)
            try:
                self.receiver.wait(40)
            except subprocess.TimeoutExpired:
                self.receiver.kill()
                self.receiver.wait()
        if self.broker is not None:
            stop_broker(self.broker)
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def wait_quiet(self, max_wait: float, threshold: float = 0.5) -> None:
        """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` cores.

        Shared CI machines run other jobs; numbers taken next to them mean little. The
        background load seen at the start is reported either way.
        """
        deadline = time.monotonic() + max_wait
        while True:
            meter = self.meter()
            meter.start()
            time.sleep(2)
            c = meter.stop()
            other = c["machine"] - sum(v for k, v in c.items() if k != "machine")
            self.background = max(other, 0.0)
            if other < threshold or time.monotonic() >= deadline:
                break
            say(f"machine busy: other processes use {other:.2f} cores; waiting for quiet")
            time.sleep(3)
        say(f"background load: {self.background:.2f} cores used by other processes")

    # -- phases ----------------------------------------------------------------------------

    def meter(self) -> CpuMeter:
        assert self.broker is not None and self.receiver is not None
        return CpuMeter(
            {
                "receiver": self.receiver.pid,
                "broker": self.broker.pid,
                "load generator": os.getpid(),
            }
        )

    async def run(self) -> None:
        args = self.args
        traces = max(1, min(args.traces_per_request, args.spans_per_request))
        say(f"building {args.templates} request templates ({args.spans_per_request} spans, "
            f"{traces} traces each)")  # fmt: skip
        self.templates: list[Template] = make_templates(
            args.templates, args.spans_per_request, traces
        )
        sizes = [len(t.encoded) for t in self.templates]
        self.body_bytes = sum(sizes) / len(sizes)
        self.traces_per_request = traces

        # a, a2, b: interleaved rounds ------------------------------------------------------
        # The machine may be shared: running the baseline and the receiver in alternating
        # short rounds exposes them to the same background load.
        messages = [split_messages(t) for t in self.templates]
        self.message_bytes = sum(len(v) for m in messages for _, v in m.messages) / sum(
            len(m.messages) for m in messages
        )
        bootstrap = self.broker.bootstrap
        producers = {"baseline": Baseline(bootstrap, BASELINE_TOPIC, messages, args.clients,
                                          self.counter)}  # fmt: skip
        if args.big_batches:
            producers["baseline_big"] = Baseline(
                bootstrap, BASELINE_TOPIC, messages, args.clients, self.counter, BIG_BATCH
            )
        for producer in producers.values():
            await producer.start()
        try:
            say(f"warm-up: {WARMUP:g} s of each")
            for producer in producers.values():
                await producer.run(WARMUP)
            warm = await closed_loop(self.url, self.templates, args.clients, WARMUP, self.counter)
            self.accepted += warm.accepted
            runs = {name: producer.run for name, producer in producers.items()}
            runs["max"] = lambda seconds: closed_loop(
                self.url, self.templates, args.clients, seconds, self.counter
            )
            grpc_address = f"127.0.0.1:{self.grpc_port}"
            runs["grpc"] = lambda seconds: grpc_closed_loop(
                grpc_address, self.templates, args.clients, seconds, self.counter
            )
            totals = {name: LoadStats() for name in runs}
            meters = {name: self.meter() for name in runs}
            per_round = args.seconds / args.rounds
            what_if = "what-if baseline (1 MiB batches), " if args.big_batches else ""
            say(f"a/a2/b: {args.rounds} rounds of {per_round:g} s each: baseline (raw aiokafka,"
                f" {args.clients} tasks), {what_if}receiver ({args.clients} HTTP clients back"
                " to back)")  # fmt: skip
            for i in range(args.rounds):
                for name, run in runs.items():
                    meters[name].start()
                    stats = await run(per_round)
                    meters[name].stop()
                    totals[name].add(stats)
                    if name in ("max", "grpc"):
                        self.accepted += stats.accepted
                say(f"   round {i + 1}: " + ", ".join(
                    f"{name} {totals[name].spans_per_s:,.0f} spans/s so far" for name in runs
                ))  # fmt: skip
        finally:
            for producer in producers.values():
                await producer.stop()
        for name in runs:
            self.phases[name] = Phase(name, totals[name], meters[name].result)
        stats = self.phases["max"].stats
        for name in runs:
            st = self.phases[name].stats
            p50 = 1000 * percentile(st.latencies, 50)
            say(f"   {name}: {st.spans_per_s:,.0f} spans/s, p50 {p50:.0f}"
                f" ms, p99 {1000 * percentile(st.latencies, 99):.0f} ms, 429: {st.too_many},"
                f" 503: {st.unavailable}, errors: {st.errors}")  # fmt: skip

        # b2. saturation ---------------------------------------------------------------------
        if args.saturation_clients:
            n = args.saturation_clients
            say(f"b2. receiver saturation: {n} HTTP clients back to back, {args.seconds:.0f} s")
            warm = await closed_loop(self.url, self.templates, n, WARMUP, self.counter)
            self.accepted += warm.accepted
            meter = self.meter()
            meter.start()
            sat = await closed_loop(self.url, self.templates, n, args.seconds, self.counter)
            self.phases["saturation"] = Phase("saturation", sat, meter.stop())
            self.accepted += sat.accepted
            say(f"   {sat.spans_per_s:,.0f} spans/s, p50 {1000 * percentile(sat.latencies, 50):.0f}"
                f" ms, p99 {1000 * percentile(sat.latencies, 99):.0f} ms, 429: {sat.too_many},"
                f" 503: {sat.unavailable}")  # fmt: skip

        # c. half rate, open loop ----------------------------------------------------------
        rate = max(stats.requests_per_s / 2, 0.5)
        say(f"c. receiver at half rate: {rate:.1f} requests/s open loop, {args.seconds:.0f} s")
        meter = self.meter()
        meter.start()
        half = await paced(self.url, self.templates, rate, args.seconds, self.counter)
        self.phases["half"] = Phase("half", half, meter.stop())
        self.accepted += half.accepted
        say(f"   {half.spans_per_s:,.0f} spans/s, p50 {1000 * percentile(half.latencies, 50):.0f}"
            f" ms, p99 {1000 * percentile(half.latencies, 99):.0f} ms")  # fmt: skip

        # d. durability -------------------------------------------------------------------
        say("d. durability: reading the spans topic back")
        await self.check_durability()

        # e. profile ----------------------------------------------------------------------
        if args.profile or (not args.no_profile and not self.targets_met()):
            await self.run_profile()

    async def check_durability(self) -> None:
        bootstrap = self.broker.bootstrap
        count = await end_offsets(bootstrap, SPANS_TOPIC, PARTITIONS)
        contents: TopicContents = await scan_topic(bootstrap, SPANS_TOPIC, PARTITIONS)
        expected_keys = set()
        for index, seq in self.accepted:
            expected_keys.update(self.templates[index].trace_keys(seq))
        non_200 = sum(
            p.stats.too_many + p.stats.unavailable + p.stats.other + p.stats.errors
            for p in self.phases.values()
            if p.name != "baseline"
        )
        missing = len(expected_keys - contents.keys.keys())
        duplicates = sum(n - 1 for n in contents.keys.values() if n > 1)
        accepted_spans = sum(self.templates[i].spans for i, _ in self.accepted)
        self.durability = {
            "accepted requests": len(self.accepted),
            "accepted traces": len(expected_keys),
            "accepted spans": accepted_spans,
            "topic messages (end offsets)": count,
            "topic messages read": contents.messages,
            "topic spans (decoded)": contents.spans,
            "accepted trace ids missing": missing,
            "duplicate keys": duplicates,
            "undecodable": contents.undecodable,
            "non-200 answers": non_200,
        }
        exact = count == len(expected_keys) and contents.spans == accepted_spans
        self.durability["ok"] = missing == 0 and contents.undecodable == 0 and (exact or non_200)
        self.durability["exact"] = exact
        say(f"   {self.durability}")

    def targets_met(self) -> bool:
        stats = self.phases["max"].stats
        return (
            stats.spans_per_s >= TARGET_SPANS
            and 1000 * percentile(stats.latencies, 99) < TARGET_P99_MS
        )

    async def run_profile(self) -> None:
        seconds = int(min(10, max(self.args.seconds, 5)))
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(pyspy).exists():
            say("e. profile skipped: py-spy not found")
            return
        raw = self.tmp / "receiver-pyspy.txt"
        say(f"e. profile: py-spy on the receiver (100 Hz, {seconds} s) under the load of b")
        assert self.receiver is not None
        proc = pyspy_record(pyspy, self.receiver.pid, seconds, raw)
        await asyncio.sleep(0.5)
        stats = await closed_loop(
            self.url, self.templates, self.args.clients, seconds, self.counter
        )
        _, err = await asyncio.to_thread(proc.communicate)
        if not raw.exists():
            say(f"   py-spy failed: {err.decode(errors='replace')[-500:]}")
            return
        samples, idle, rows, buckets = hot_spots(raw)
        marks = inclusive(raw, list(MARKS))
        self.profile = Profile(samples, idle, seconds, stats.spans_per_s, rows, buckets, marks, raw)
        if self.args.keep or self.args.profile_out:
            target = Path(self.args.profile_out or raw)
            if target != raw:
                shutil.copy(raw, target)
            say(f"   raw profile: {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument("--spans-per-request", type=int, default=200)
    parser.add_argument("--traces-per-request", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=4,
        help="a, a2 and b run interleaved in this many rounds (fair under background load)",
    )  # fmt: skip
    parser.add_argument("--templates", type=int, default=8, help="distinct request bodies")
    parser.add_argument("--profile", action="store_true", help="profile even if targets are met")
    parser.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument("--profile-out", help="copy py-spy's raw output here")
    parser.add_argument(
        "--wait-quiet", type=float, default=120.0,
        help="wait up to this long for other processes to use < 0.5 cores before starting",
    )  # fmt: skip
    parser.add_argument(
        "--saturation-clients", type=int, default=16,
        help="extra run with this many clients to find the receiver's ceiling (0 = skip)",
    )  # fmt: skip
    parser.add_argument(
        "--no-big-batches", dest="big_batches", action="store_false",
        help="skip the what-if baseline with max_batch_size = 1 MiB",
    )  # fmt: skip
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, profile)")
    parser.add_argument(
        "--quick", action="store_true",
        help="a check that it runs (tests/test_benchmarks_start.py): --seconds 3 --rounds 1"
        " --saturation-clients 0 --no-big-batches --no-profile --wait-quiet 0 --no-docs",
    )  # fmt: skip
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.saturation_clients, args.big_batches = 3.0, 1, 0, False
        args.no_profile, args.profile, args.wait_quiet, args.no_docs = True, False, 0.0, True

    bench = Bench(args)
    started = time.monotonic()
    try:
        bench.start_broker()
        bench.start_receiver()
        bench.wait_quiet(args.wait_quiet)
        asyncio.run(bench.run())
    finally:
        say("stopping receiver and broker")
        bench.stop_all()
    bench.total_seconds = time.monotonic() - started
    report = render_report(bench)
    print("\n" + report + "\n")
    if not args.no_docs:
        write_doc(report)
        say(f"results written to {DOC.relative_to(ROOT)} ({HEADING})")
    say(f"done in {time.monotonic() - started:.0f} s")
    if not bench.durability.get("ok"):
        sys.exit(1)


if __name__ == "__main__":
    main()
