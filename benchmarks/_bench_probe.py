"""Measuring instruments for benchmarks/throughput.py: an output-topic tailer (read_committed),
a process monitor (RSS high-water mark, CPU), a paced producer thread, and a py-spy reader."""

from __future__ import annotations

import asyncio
import collections
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass
class Tail:
    """What a read_committed consumer saw on one output topic."""

    count: int = 0
    timestamps: list[int] = field(default_factory=list)  # record CreateTime, ms
    keys: list[bytes] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # wall time the record became visible
    last_arrival: float = 0.0
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    target: int = 0


async def tail(bootstrap: str, topic: str, partitions: int, tail_: Tail, keep_keys: bool) -> None:
    """Read ``topic`` from the beginning as a read_committed consumer until cancelled."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_poll_records=2000,
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batches.values():
                for record in records:
                    tail_.timestamps.append(record.timestamp)
                    if keep_keys:
                        tail_.keys.append(record.key)
                        tail_.arrivals.append(now)
                tail_.count += len(records)
                if records:
                    tail_.last_arrival = now
            if tail_.target and tail_.count >= tail_.target:
                tail_.reached.set()
    finally:
        await consumer.stop()


def first_burst(timestamps: list[int], gap_ms: int = 3) -> tuple[int, int]:
    """(t0, n): the first send time and how many records were sent in that first burst.

    Those records were consumed and processed *before* t0, so a rate over [t0, end] must not
    count them.
    """
    ordered = sorted(timestamps)
    n = 1
    while n < len(ordered) and ordered[n] - ordered[n - 1] < gap_ms:
        n += 1
    return ordered[0], n


@dataclass
class Usage:
    peak_rss_mb: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (wall, cpu seconds)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (wall, current RSS)

    def cpu_between(self, t0: float, t1: float) -> float | None:
        """Average CPU use in [t0, t1] as a fraction of one core (from the nearest samples)."""
        inside = [s for s in self.samples if t0 - 0.15 <= s[0] <= t1 + 0.15]
        if len(inside) < 2 or inside[-1][0] - inside[0][0] < 0.2:
            return None
        return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


async def monitor(pid: int, usage: Usage, interval: float = 0.1) -> None:
    """Sample CPU time and VmHWM (peak RSS, kernel-tracked) of ``pid`` until it exits.

    Its child processes (the evaluator processes of EVALSTREAM_EVALUATOR_PROCESSES) count as
    part of it: their CPU time is added (live ones sampled, exited ones through the parent's
    children times), and with children the peak RSS is the peak of the sum of current RSS.
    """
    try:
        proc = psutil.Process(pid)
        status = Path(f"/proc/{pid}/status")
        while proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
            cpu = proc.cpu_times()
            children_cpu, children_rss = _children_usage(proc)
            total = cpu.user + cpu.system + cpu.children_user + cpu.children_system
            usage.samples.append((time.time(), total + children_cpu))
            text = status.read_text()
            match = re.search(r"VmHWM:\s+(\d+) kB", text)
            rss = int(match.group(1)) / 1024 if match else proc.memory_info().rss / 2**20
            usage.peak_rss_mb = max(usage.peak_rss_mb, rss)
            if match := re.search(r"VmRSS:\s+(\d+) kB", text):
                current = int(match.group(1)) / 1024 + children_rss
                usage.rss_mb.append((time.time(), current))
                usage.peak_rss_mb = max(usage.peak_rss_mb, current)
            await asyncio.sleep(interval)
    except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
        pass


def _children_usage(proc: psutil.Process) -> tuple[float, float]:
    """CPU seconds and current RSS (MB) of the live descendants of ``proc``."""
    cpu = rss = 0.0
    for child in proc.children(recursive=True):
        try:
            times = child.cpu_times()
            cpu += times.user + times.system
            rss += child.memory_info().rss / 2**20
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return cpu, rss


async def monitor_machine(usage: Usage, interval: float = 0.25) -> None:
    """Sample the busy CPU seconds of the whole machine (every process), until cancelled."""
    while True:
        cpu = psutil.cpu_times()
        busy = cpu.user + cpu.nice + cpu.system + cpu.irq + cpu.softirq + cpu.steal
        usage.samples.append((time.time(), busy))
        await asyncio.sleep(interval)


class Pacer(threading.Thread):
    """Produces ``rate`` traces/s for ``seconds`` (kafka-python, its own thread).

    Each record's timestamp is the wall time of its send call, and the trace id is made unique
    (``lat<i>``) so the tailer can match scored records to their produce time.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        pairs: list[tuple[bytes, bytes]],
        rate: float,
        seconds: float,
        prefix: str,
    ) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.pairs = bootstrap, topic, pairs
        self.rate, self.seconds, self.prefix = rate, seconds, prefix
        self.sent_at: dict[bytes, float] = {}
        self.sent = 0
        self.behind_max = 0.0  # how far the pacer ever fell behind its schedule (s)

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks=1, linger_ms=1)
        total = int(self.rate * self.seconds)
        start = time.time()
        for i in range(total):
            due = start + i / self.rate
            now = time.time()
            if due > now:
                time.sleep(due - now)
            else:
                self.behind_max = max(self.behind_max, now - due)
            key, value = self.pairs[i % len(self.pairs)]
            new_key = f"{self.prefix}{i}".encode()
            value = value.replace(b'"trace_id":"' + key + b'"', b'"trace_id":"' + new_key + b'"')
            sent = time.time()
            self.sent_at[new_key] = sent
            producer.send(self.topic, value=value, key=new_key, timestamp_ms=int(sent * 1000))
            self.sent += 1
        producer.flush()
        producer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def _raw_samples(raw_profile: Path) -> Iterator[tuple[str, int]]:
    """(stack, sample count) of each line of py-spy ``--format raw`` output."""
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():
            yield stack, int(count)


def hottest(raw_profile: Path, top: int = 10) -> tuple[int, list[tuple[str, float, float]]]:
    """From py-spy ``--format raw --function`` output: (samples, [(function, self %, total %)]).

    Self = the function was the innermost frame; total = anywhere on the stack (counted once
    per sample). Only threads that were running (py-spy drops idle ones) are in the samples.
    """
    self_n: collections.Counter[str] = collections.Counter()
    total_n: collections.Counter[str] = collections.Counter()
    samples = 0
    for stack, n in _raw_samples(raw_profile):
        if not stack:
            continue
        frames = [_short(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ")]  # py-spy --threads header
        samples += n
        if frames:
            self_n[frames[-1]] += n
        for frame in set(frames):
            total_n[frame] += n
    rows = [
        (name, 100 * self_n[name] / samples, 100 * total_n[name] / samples)
        for name, _ in self_n.most_common(top)
    ]
    return samples, rows


def inclusive(raw_profile: Path, needles: list[str]) -> dict[str, float]:
    """% of samples whose stack contains a frame matching each needle (substring)."""
    hits = collections.Counter()
    samples = 0
    for stack, n in _raw_samples(raw_profile):
        samples += n
        for needle in needles:
            if needle in stack:
                hits[needle] += n
    return {n: 100 * hits[n] / max(samples, 1) for n in needles}


WORKER_AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("logging", ("logging/__init__.py",)),
    ("decode + validate input", ("pipeline/decode/",)),
    ("evaluators + result records", ("evaluators/",)),
    ("scored message: build + serialise", ("pipeline/sinks/encode.py", "pipeline/sinks/size.py",
                                           "pipeline/evaluate/scorer.py", "pipeline/redaction/")),
    ("Parquet stage: rows + files", ("pipeline/sinks/parquet.py", "pipeline/sinks/rows.py",
                                     "pipeline/sinks/delta", "ParquetStage", "pyarrow/")),
    ("windows + metrics", ("pipeline/evaluate/", "pipeline/worker/observers.py",
                           "prometheus_client/")),
    ("sessions (router, stage, book, table writes)", ("pipeline/sessions/",)),
    ("sends (sinks/kafka + aiokafka producer)", ("pipeline/sinks/kafka.py", "aiokafka/producer/")),
    ("commit (checkpoint, transactions)", ("pipeline/worker/checkpoint.py", "commit_transactions",
                                           "send_offsets_to_transaction")),
    ("batch channels (ours)", ("pipeline/kafka/batch_channel.py",)),
    ("worker loops (app.py, stages.py, redelivery)", ("pipeline/worker/", "pipeline/kafka/")),
    ("faust + mode (fetch loop, conductor, streams, events)", ("faust/", "mode/")),
    ("aiokafka consumer + connections", ("aiokafka/",)),
]  # fmt: skip
"""Areas of the worker's code for ``by_area``; the first that matches a frame wins."""


def by_area(raw_profile: Path, areas: list[tuple[str, tuple[str, ...]]]) -> dict[str, float]:
    """% of samples per area, each sample counted once: in the innermost frame that belongs
    to an area (so a library such as pydantic or asyncio counts where it is called from);
    samples with no such frame are "other (asyncio loop, threads)"."""
    hits: collections.Counter[str] = collections.Counter()
    samples = 0
    for stack, n in _raw_samples(raw_profile):
        if not stack:
            continue
        samples += n
        area = "other (asyncio loop, threads)"
        for frame in reversed(stack.split(";")):
            found = next((label for label, needles in areas if any(n in frame for n in needles)),
                         None)  # fmt: skip
            if found is not None:
                area = found
                break
        hits[area] += n
    labels = [label for label, _ in areas] + ["other (asyncio loop, threads)"]
    return {label: 100 * hits[label] / max(samples, 1) for label in labels}


def _short(frame: str) -> str:
    """'func (/long/path/site-packages/pkg/mod.py)' -> 'func (pkg/mod.py)'."""
    match = re.match(r"(.*) \((.*)\)$", frame)
    if not match:
        return frame
    name, path = match.groups()
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"
