"""How long does ``TraceProducer.log_trace`` hold the application's thread, across an outage?

    .venv/bin/python benchmarks/sdk_latency.py [--traces 10000] [--outage 10] [--rounds 3]

Each round starts its own Kafka broker (free port, temp dir), then an "application" thread
makes traces on the fly (``pipeline.tools.demo.samples``, ~700/s: 70 every 100 ms) and logs each
with ``log_trace`` under the default ``spill`` policy; 1.5 s in, the broker is stopped for
``--outage`` seconds and started again. The round ends when every trace is acknowledged by
Kafka, and the topic is read back to check that each trace id is there exactly once.

Baseline, measured in the same run, paired call by call: right before each ``log_trace`` the
same thread does the same CPU work without the hand-off (validate the trace with the schema
model, serialize it, append the bytes to a deque). Both see the same moments of the machine
and are exposed to preemption for about as long, so a slow baseline call marks a moment when
the thread could not run (the GIL handed to another thread for the interpreter's 5 ms switch
interval, CPU taken by the broker or other processes) rather than waiting done by
``log_trace``. Garbage-collector passes are recorded with ``gc.callbacks`` and attributed to
the calls they fell into. ``--control`` adds a round without the SDK after each round (no
producer, so none of its threads; the same application thread doing only the baseline work):
whatever tail that shows is the interpreter's and the machine's, not the SDK's.

Writes its table into docs/sdk.md between markers (``--no-docs`` skips).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gc
import itertools
import os
import platform
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kafka import KafkaConsumer, TopicPartition  # noqa: E402

from pipeline.client import TraceProducer  # noqa: E402
from pipeline.kafka.broker import free_port, start_broker, stop_broker  # noqa: E402
from pipeline.kafka.clients import ensure_topics  # noqa: E402
from pipeline.settings import load_settings  # noqa: E402
from pipeline.tools.demo.samples import sample_traces  # noqa: E402
from schemas import Trace  # noqa: E402

DOC = ROOT / "docs" / "sdk.md"
BEGIN, END = "<!-- sdk-latency-bench:begin -->", "<!-- sdk-latency-bench:end -->"
SLOW = 0.005


@dataclass
class Calls:
    """Wall durations of one kind of call, plus which of them contained a GC pass."""

    durations: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the thread's own CPU time in the call
    with_gc: set[int] = field(default_factory=set)

    def pct(self, q: float) -> float:
        ordered = sorted(self.durations)
        return ordered[min(int(len(ordered) * q), len(ordered) - 1)] * 1000

    def slow(self) -> list[int]:
        return [i for i, d in enumerate(self.durations) if d > SLOW]


class GcWatch:
    """Start times and durations of every collector pass (all generations)."""

    def __init__(self) -> None:
        self.passes: list[tuple[float, float, int]] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._start = now
        else:
            self.passes.append((self._start, now - self._start, info["generation"]))

    def inside(self, start: float, duration: float) -> bool:
        return any(start <= t0 and t0 + d <= start + duration for t0, d, _ in self.passes)


def _count_ids(bootstrap: str, topic: str) -> collections.Counter[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        ids: collections.Counter[str] = collections.Counter()
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError("reading the topic back took over 60 s")
            for records in consumer.poll(timeout_ms=500).values():
                ids.update(orjson.loads(r.value)["trace_id"] for r in records)
        return ids
    finally:
        consumer.close()


def run_round(total: int, outage: float, with_sdk: bool = True) -> dict:
    """One round; ``with_sdk=False`` is the control: no TraceProducer (so none of its
    threads), the application thread does only the baseline work, the broker still runs."""
    tmp = Path(tempfile.mkdtemp(prefix="sdk-latency-"))
    handle = start_broker(port=free_port(), data_dir=tmp / "kafka")
    watch = GcWatch()
    ours, floor, starts = Calls(), Calls(), []
    try:
        settings = load_settings(bootstrap_servers=handle.bootstrap)
        ensure_topics(settings, ["traces"], partitions=4)
        producer = (
            TraceProducer(settings, topic="traces", spill_dir=tmp / "spill") if with_sdk else None
        )
        log_trace = producer.log_trace if producer is not None else lambda trace: None
        sink: collections.deque[bytes] = collections.deque(maxlen=1000)
        traces = sample_traces(total, seed=11)  # made on the fly, as an application would

        def app() -> None:
            perf, cpu = time.perf_counter, time.thread_time
            for _ in range(0, total, 70):
                for trace in itertools.islice(traces, 70):
                    t0 = perf()
                    sink.append(Trace.model_validate(trace).model_dump_json().encode())
                    t1, c1 = perf(), cpu()
                    log_trace(trace)
                    t2, c2 = perf(), cpu()
                    floor.durations.append(t1 - t0)
                    ours.durations.append(t2 - t1)
                    ours.cpu.append(c2 - c1)
                    starts.append((t0, t1))
                time.sleep(0.1)

        gc.callbacks.append(watch)
        thread = threading.Thread(target=app, name="app")
        began = time.monotonic()
        thread.start()
        time.sleep(1.5)
        stop_broker(handle)
        time.sleep(outage)
        handle = start_broker(port=handle.port, data_dir=handle.data_dir)
        thread.join()
        gc.callbacks.remove(watch)
        deadline = time.monotonic() + 120
        while producer is not None and time.monotonic() < deadline:
            stats = producer.stats()
            if stats.sent + stats.replayed >= total and not stats.spill_files:
                break
            time.sleep(0.2)
        delivered_s = time.monotonic() - began
        stats = producer.stats() if producer is not None else None
        if producer is not None:
            producer.close()
        ids = _count_ids(handle.bootstrap, "traces")
    finally:
        stop_broker(handle)
    for i, (t0, t1) in enumerate(starts):
        if watch.inside(t0, t1 - t0 + floor.durations[i]):
            floor.with_gc.add(i)
        if watch.inside(t1, ours.durations[i]):
            ours.with_gc.add(i)
    return {
        "ours": ours,
        "floor": floor,
        "gc_passes": len(watch.passes),
        "gc_full": sum(g == 2 for *_, g in watch.passes),
        "stats": stats,
        "unique": len(ids),
        "messages": sum(ids.values()),
        "delivered_s": delivered_s,
        "slow_calls": [
            f"{(starts[i][1] - starts[0][0]):.2f} s: {ours.durations[i] * 1000:.2f} ms wall, "
            f"{ours.cpu[i] * 1000:.2f} ms CPU, GC pass inside: {i in ours.with_gc}"
            for i in ours.slow()
        ],
    }


def _row(n: int, r: dict) -> str:
    ours, floor = r["ours"], r["floor"]
    slow = ours.slow()
    slow_gc = sum(i in ours.with_gc for i in slow)
    return (
        f"| {n} | {ours.pct(0.5):.3f} | {ours.pct(0.99):.3f} | {ours.pct(1.0):.2f} "
        f"| {len(slow)} ({slow_gc} in a GC pass) | {floor.pct(0.99):.3f} | {floor.pct(1.0):.2f} "
        f"| {len(floor.slow())} | {r['stats'].spilled} | {r['messages']} / {r['unique']} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--outage", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="list every call over 5 ms")
    parser.add_argument(
        "--control",
        action="store_true",
        help="also run each round without the SDK (no producer, so none of its threads): the"
        " baseline work alone, as control columns",
    )
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="what-if: sys.setswitchinterval for the run (an application-wide knob; default 5)",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="what-if: gc.freeze() after start-up, so collections skip the start-up heap",
    )
    args = parser.parse_args(argv)
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    if args.gc_freeze:
        gc.freeze()
    header = (
        "| round | log_trace p50 ms | p99 ms | max ms | calls > 5 ms | baseline p99 ms "
        "| baseline max ms | baseline calls > 5 ms | spilled | messages / unique ids |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    if args.control:
        top, rule = header.split("\n")
        header = (
            top
            + " control p99 ms | control max ms | control calls > 5 ms |\n"
            + rule
            + "---|---|---|"
        )
    rows, ok = [], True
    for n in range(1, args.rounds + 1):
        result = run_round(args.traces, args.outage)
        rows.append(_row(n, result))
        ok &= result["messages"] == result["unique"] == args.traces
        print(header if n == 1 else "", rows[-1], sep="\n" if n == 1 else "", flush=True)
        print(
            f"   gc passes {result['gc_passes']} (full: {result['gc_full']}), all delivered "
            f"{result['delivered_s']:.1f} s after the first trace; {result['stats']}"
        )
        if args.verbose:
            print("\n".join(f"   slow call at {line}" for line in result["slow_calls"]))
        if args.control:
            alone = run_round(args.traces, args.outage, with_sdk=False)["floor"]
            slow_gc = sum(i in alone.with_gc for i in alone.slow())
            control = (
                f" {alone.pct(0.99):.3f} | {alone.pct(1.0):.2f} "
                f"| {len(alone.slow())} ({slow_gc} in a GC pass) |"
            )
            rows[-1] += control
            print(f"   control without the SDK (p99 ms | max ms | calls > 5 ms):{control}")
    if not args.no_docs:
        _write_doc(args, header, rows)
    return 0 if ok else 1


def _write_doc(args: argparse.Namespace, header: str, rows: list[str]) -> None:
    load = os.getloadavg()[0]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    knobs = (f" --switch-interval-ms {args.switch_interval_ms:g}" if args.switch_interval_ms
             else "") + (" --gc-freeze" if args.gc_freeze else "") + (
             " --control" if args.control else "")  # fmt: skip
    body = (
        f"Measured by `.venv/bin/python benchmarks/sdk_latency.py --traces {args.traces} "
        f"--outage {args.outage:g} --rounds {args.rounds}{knobs}` on "
        f"{dt.date.today().isoformat()} "
        f"({machine}; load average {load:.1f} at the end). Broker stopped for {args.outage:g} s "
        "1.5 s into each round; default `spill` policy, queue 1,000, 10 sender threads.\n\n"
        f"{header}\n" + "\n".join(rows) + "\n"
    )
    text = DOC.read_text(encoding="utf-8")
    section = f"{BEGIN}\n{body}{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    raise SystemExit(main())
