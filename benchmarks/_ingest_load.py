"""Load generators and instruments for benchmarks/ingest.py.

* ``closed_loop``: N HTTP clients, each sending its next request as soon as the previous
  answer arrived (the "as fast as possible" run); 429/503 are counted and Retry-After honoured.
* ``grpc_closed_loop``: the same over OTLP/gRPC (``TraceService/Export``).
* ``paced``: an open-loop sender at a fixed request rate; latency is measured from each
  request's *scheduled* time, so a stalled receiver cannot hide queueing (no coordinated
  omission).
* ``baseline``: a raw aiokafka producer (acks=all, idempotent, linger 5 ms, as the receiver's)
  publishing the receiver's own per-trace messages from N tasks, one "request" at a time.
* ``scan_topic``: reads a topic back (keys, message and span counts) for the durability check.
* ``CpuMeter`` and ``pyspy_record`` / ``hot_spots``: where the CPU went.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc
import psutil
from _ingest_otlp import Template, TraceMessages
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * q // 100)))
    return ordered[int(rank) - 1]


@dataclass
class LoadStats:
    """What one load phase saw, from the client side."""

    ok: int = 0
    too_many: int = 0  # 429
    unavailable: int = 0  # 503
    other: int = 0  # any other status
    errors: int = 0  # connection errors, timeouts
    accepted_spans: int = 0
    rejected_spans: int = 0  # partial_success.rejected_spans inside 200 answers
    latencies: list[float] = field(default_factory=list)  # seconds, 200 answers only
    accepted: list[tuple[int, int]] = field(default_factory=list)  # (template index, seq)
    started: float = 0.0
    finished: float = 0.0
    behind_max: float = 0.0  # paced: how late the sender ever started a request (s)

    elapsed_sum: float = 0.0  # when several runs were added together

    @property
    def elapsed(self) -> float:
        if self.elapsed_sum:
            return self.elapsed_sum
        return max(self.finished - self.started, 1e-9)

    @property
    def spans_per_s(self) -> float:
        return self.accepted_spans / self.elapsed

    @property
    def requests_per_s(self) -> float:
        return self.ok / self.elapsed

    def add(self, other: LoadStats) -> None:
        """Fold another run of the same kind into this one (rates over the summed time)."""
        self.elapsed_sum += other.elapsed  # (only fold into a fresh LoadStats)
        for name in ("ok", "too_many", "unavailable", "other", "errors", "accepted_spans",
                     "rejected_spans"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies.extend(other.latencies)
        self.accepted.extend(other.accepted)
        self.behind_max = max(self.behind_max, other.behind_max)


def _accepted(
    stats: LoadStats, template: Template, index: int, seq: int, start: float, rejected: int
) -> None:
    stats.ok += 1
    stats.latencies.append(time.perf_counter() - start)
    stats.accepted_spans += template.spans - rejected
    stats.rejected_spans += rejected
    stats.accepted.append((index, seq))


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    templates: list[Template],
    seq: int,
    stats: LoadStats,
    start: float,
) -> float | None:
    """Send request ``seq``; record the outcome. Returns the Retry-After seconds on 429/503."""
    index = seq % len(templates)
    template = templates[index]
    body = template.body(seq)
    try:
        async with session.post(url, data=body, headers={"Content-Type": PROTOBUF}) as resp:
            payload = await resp.read()
            status = resp.status
            retry_after = resp.headers.get("Retry-After")
    except (TimeoutError, aiohttp.ClientError):
        stats.errors += 1
        return 1.0
    if status == 200:
        answer = ExportTraceServiceResponse()
        answer.ParseFromString(payload)
        _accepted(stats, template, index, seq, start, answer.partial_success.rejected_spans)
        return None
    if status == 429:
        stats.too_many += 1
    elif status == 503:
        stats.unavailable += 1
    else:
        stats.other += 1
    try:
        return float(retry_after) if retry_after else 1.0
    except ValueError:
        return 1.0


def _session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=60),
    )


async def closed_loop(
    url: str,
    templates: list[Template],
    clients: int,
    seconds: float,
    counter: itertools.count,
) -> LoadStats:
    """``clients`` concurrent senders, back to back, for ``seconds`` (last answers awaited)."""
    stats = LoadStats()
    async with _session(clients) as session:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while (now := time.perf_counter()) < deadline:
                retry = await _post(session, url, templates, next(counter), stats, now)
                if retry is not None:
                    await asyncio.sleep(min(retry, max(deadline - time.perf_counter(), 0)))

        stats.started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        stats.finished = time.perf_counter()
    return stats


GRPC_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


async def grpc_closed_loop(
    address: str,
    templates: list[Template],
    clients: int,
    seconds: float,
    counter: itertools.count,
) -> LoadStats:
    """``closed_loop`` over OTLP/gRPC: ``clients`` concurrent calls on one channel (HTTP/2
    multiplexes them, as one OTel gRPC exporter per app would); RetryInfo is not parsed,
    refusals wait 1 s."""
    stats = LoadStats()
    async with grpc.aio.insecure_channel(address) as channel:
        export = channel.unary_unary(
            GRPC_EXPORT, response_deserializer=ExportTraceServiceResponse.FromString
        )  # no request serializer: the template bodies are already encoded
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while (now := time.perf_counter()) < deadline:
                seq = next(counter)
                index = seq % len(templates)
                try:
                    answer = await export(templates[index].body(seq), timeout=60)
                except grpc.aio.AioRpcError as error:
                    code = error.code()
                    if code is grpc.StatusCode.RESOURCE_EXHAUSTED:
                        stats.too_many += 1
                    elif code is grpc.StatusCode.UNAVAILABLE:
                        stats.unavailable += 1
                    else:
                        stats.errors += 1
                    await asyncio.sleep(min(1.0, max(deadline - time.perf_counter(), 0)))
                    continue
                rejected = answer.partial_success.rejected_spans
                _accepted(stats, templates[index], index, seq, now, rejected)

        stats.started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        stats.finished = time.perf_counter()
    return stats


async def paced(
    url: str,
    templates: list[Template],
    rate: float,
    seconds: float,
    counter: itertools.count,
) -> LoadStats:
    """Open loop: request i is due at start + i/rate, sent then whatever is still in flight."""
    stats = LoadStats()
    total = max(int(rate * seconds), 1)
    async with _session(0) as session:  # 0 = no connection limit: never queue client-side
        tasks = []
        stats.started = start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                stats.behind_max = max(stats.behind_max, -delay)
            tasks.append(
                asyncio.ensure_future(_post(session, url, templates, next(counter), stats, due))
            )
        await asyncio.gather(*tasks)
        stats.finished = time.perf_counter()
    return stats


class Baseline:
    """Raw aiokafka: each task publishes one request's per-trace messages, awaits every ack.

    Same producer settings as the receiver's; ``max_batch_size`` (aiokafka default 16 KiB)
    only for the what-if variant.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        messages: list[TraceMessages],
        tasks: int,
        counter: itertools.count,
        max_batch_size: int | None = None,
    ) -> None:
        extra = {} if max_batch_size is None else {"max_batch_size": max_batch_size}
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="evalstream-bench-baseline",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            **extra,
        )
        self.topic, self.messages, self.tasks, self.counter = topic, messages, tasks, counter

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def run(self, seconds: float) -> LoadStats:
        stats = LoadStats()
        deadline = time.perf_counter() + seconds
        producer, topic, messages = self.producer, self.topic, self.messages

        async def task() -> None:
            while (start := time.perf_counter()) < deadline:
                seq = next(self.counter)
                index = seq % len(messages)
                futures = [
                    await producer.send(topic, value, key=key)
                    for key, value in messages[index].for_seq(seq)
                ]
                await asyncio.gather(*futures)
                stats.ok += 1
                stats.latencies.append(time.perf_counter() - start)
                stats.accepted_spans += messages[index].template.spans
                stats.accepted.append((index, seq))

        stats.started = time.perf_counter()
        await asyncio.gather(*(task() for _ in range(self.tasks)))
        stats.finished = time.perf_counter()
        return stats


@dataclass
class TopicContents:
    messages: int = 0
    spans: int = 0
    keys: collections.Counter = field(default_factory=collections.Counter)
    undecodable: int = 0


async def end_offsets(bootstrap: str, topic: str, partitions_n: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partitions_n)]
        begin = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        return sum(end[tp] - begin[tp] for tp in partitions)
    finally:
        await consumer.stop()


async def scan_topic(
    bootstrap: str, topic: str, partitions_n: int, timeout: float = 120
) -> TopicContents:
    """Every message of ``topic``: keys, and spans counted by decoding each value."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        max_poll_records=5000,
    )
    await consumer.start()
    out = TopicContents()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partitions_n)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        request = ExportTraceServiceRequest()
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in partitions]
            if all(pos >= end[tp] for pos, tp in zip(positions, partitions, strict=True)):
                break
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    out.messages += 1
                    out.keys[record.key] += 1
                    try:
                        request.ParseFromString(record.value)
                    except Exception:
                        out.undecodable += 1
                        continue
                    out.spans += sum(
                        len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans
                    )
    finally:
        await consumer.stop()
    return out


class CpuMeter:
    """CPU seconds of a few processes (and the whole machine) between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.result: dict[str, float] = {}

    @staticmethod
    def _cpu(proc: psutil.Process) -> float:
        total = proc.cpu_times()  # this process only (children are listed separately)
        return total.user + total.system

    @staticmethod
    def _machine() -> float:
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + t.irq + t.softirq + t.steal

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = {name: self._cpu(p) for name, p in self.procs.items()}
        self.m0 = self._machine()

    def stop(self) -> dict[str, float]:
        """Cores used by each process (1.0 = one core busy), plus 'machine', over every
        start()/stop() interval so far."""
        self.wall = getattr(self, "wall", 0.0) + time.perf_counter() - self.t0
        self.used = getattr(self, "used", {})
        for name, p in self.procs.items():
            self.used[name] = self.used.get(name, 0.0) + self._cpu(p) - self.c0[name]
        self.used["machine"] = self.used.get("machine", 0.0) + self._machine() - self.m0
        self.result = {name: v / max(self.wall, 1e-9) for name, v in self.used.items()}
        return self.result


def pyspy_record(
    pyspy: str, pid: int, seconds: int, out: Path, rate: int = 100
) -> subprocess.Popen:
    """Start py-spy on ``pid`` (raw collapsed stacks, idle threads dropped); caller waits."""
    return subprocess.Popen(
        [pyspy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(rate),
         "--format", "raw", "--function", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _short(frame: str) -> str:
    """'func (/long/path/site-packages/pkg/mod.py)' -> 'func (pkg/mod.py)'."""
    match = re.match(r"(.*) \((.*)\)$", frame)
    if not match:
        return frame
    name, path = match.groups()
    for marker in ("site-packages/", "/work/main/", "lib/python3.", "python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith(("lib/python3.", "python3.")):
                path = path.split("/", 1)[-1]
            break
    return f"{name} ({path})"


# Buckets of receiver work: (label, substrings; the first bucket that matches a stack wins,
# checked from the innermost frame outwards).
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("protobuf parse of the request (ParseFromString)", ("parse_request",)),
    ("split per trace (split_by_trace, _scope_for, span copies)", ("split_by_trace",)),
    ("per-trace encode (SerializeToString)", ("encode_for_topic",)),
    ("aiokafka send() + batch building (producer.send, record builder)",
     ("send (aiokafka/producer/producer.py)", "aiokafka/producer/message_accumulator.py",
      "aiokafka/record/")),
    ("aiokafka sender / protocol / connection (acks, idempotence)",
     ("aiokafka/producer/sender.py", "aiokafka/conn.py", "aiokafka/protocol/",
      "aiokafka/client.py")),
    ("read body (aiohttp StreamReader, read_body)", ("read_body",)),
    ("aiohttp server: HTTP parsing, request/response, handler glue",
     ("aiohttp/web_protocol.py", "aiohttp/http_parser.py", "aiohttp/web_response.py",
      "aiohttp/http_writer.py", "aiohttp/web_app.py", "aiohttp/web_urldispatcher.py")),
    ("metrics (prometheus counters)", ("prometheus_client",)),
    ("asyncio event loop: transports, callbacks, scheduling", ("asyncio/",)),
]  # fmt: skip


IDLE = ("EpollSelector.select", "_worker (")  # epoll wait; an idle executor thread


def hot_spots(
    raw: Path, top: int = 15
) -> tuple[int, float, list[tuple[str, float, float]], list[tuple[str, float]]]:
    """From py-spy ``--format raw --function``: (samples, idle %, top rows, buckets).

    Samples whose innermost frame is the event loop's epoll wait are idle (py-spy counts a
    thread inside a syscall as running); rows and buckets are % of the busy samples. A stack
    goes to the first specific bucket found from its innermost frame outwards, else to the
    generic asyncio bucket, else "other".
    """
    self_n: collections.Counter[str] = collections.Counter()
    total_n: collections.Counter[str] = collections.Counter()
    bucket_n: collections.Counter[str] = collections.Counter()
    samples = idle = 0
    specific, generic = BUCKETS[:-1], BUCKETS[-1:]
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += n
        if frames[-1].startswith(IDLE):
            idle += n
            continue
        short = [_short(f) for f in frames]
        self_n[short[-1]] += n
        for frame in set(short):
            total_n[frame] += n
        label = "other"
        for group in (specific, generic):
            hit = next(
                (
                    b
                    for f in reversed(short)
                    for b, needles in group
                    if any(x in f for x in needles)
                ),
                None,
            )
            if hit is not None:
                label = hit
                break
        bucket_n[label] += n
    busy = max(samples - idle, 1)
    rows = [(name, 100 * self_n[name] / busy, 100 * total_n[name] / busy)
            for name, _ in self_n.most_common(top)]  # fmt: skip
    buckets = [(name, 100 * n / busy) for name, n in bucket_n.most_common()]
    return samples, 100 * idle / max(samples, 1), rows, buckets


def inclusive(raw: Path, names: list[str]) -> dict[str, float]:
    """% of busy samples with a frame containing each substring anywhere on the stack."""
    hits: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or stack.rsplit(";", 1)[-1].startswith(IDLE):
            continue
        samples += int(count)
        for name in names:
            if name in stack:
                hits[name] += int(count)
    return {name: 100 * hits[name] / max(samples, 1) for name in names}
