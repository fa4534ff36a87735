"""The report of ``benchmarks/ingest.py``: the table of its phases, the verdicts against the
targets, the durability check and the receiver profile, written into docs/performance.md
between its markers (text outside them is kept)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

from _ingest_load import LoadStats, percentile

from pipeline.kafka.broker.config import DEFAULT_KAFKA_VERSION

ROOT = Path(__file__).resolve().parent.parent
PARTITIONS = 4
WARMUP = 2.0
TARGET_SPANS = 10_000
TARGET_P99_MS = 250.0
MLFLOW_SPANS = 1_050
DOC = ROOT / "docs" / "performance.md"
HEADING = "## Ingest (OTLP receiver)"
MARKS = {
    "OtlpReceiver._publish": "the handler after the body is read (parse, split, encode, send)",
    "parse_request": "protobuf parse of the request",
    "split_by_trace": "split per trace",
    "_scope_for": "  of which `_scope_for` (resource/scope compare + copy)",
    "encode_for_topic": "per-trace SerializeToString",
    "AIOKafkaProducer.send": "aiokafka `send()` (partitioner, accumulator)",
    "aiokafka/producer/sender.py": "aiokafka sender task (produce requests, acks)",
    "AIOKafkaConnection": "aiokafka connection (socket writes/reads to the broker)",
    "web_protocol.py": "aiohttp server (HTTP parsing, handler dispatch, responses)",
}
BEGIN, END = "<!-- ingest-bench:begin -->", "<!-- ingest-bench:end -->"


def render_report(bench) -> str:
    """The section of docs/performance.md for one run of *bench* (an ``ingest.Bench`` after
    its run: phases, durability check, profile)."""
    args = bench.args
    base = bench.phases["baseline"].stats
    top = bench.phases["max"].stats
    half = bench.phases["half"].stats

    def ms(stats: LoadStats, q: float) -> str:
        return f"{1000 * percentile(stats.latencies, q):.0f}"

    def row(phase: str, label: str) -> str:
        p = bench.phases[phase]
        st, c = p.stats, p.cpu
        is_receiver = not phase.startswith("baseline")
        own = sum(c.get(k, 0) for k in ("receiver", "broker", "load generator"))
        other = max(c.get("machine", 0) - own, 0)
        receiver_cpu = f"{c['receiver']:.2f}" if is_receiver else "-"
        cores = f"{receiver_cpu} / {c['broker']:.2f} / {c['load generator']:.2f} / {other:.2f}"
        us = f"{1e6 * c['receiver'] / max(st.spans_per_s, 1e-9):.0f}" if is_receiver else "-"
        refused = f"{st.too_many} / {st.unavailable} / {st.errors}" if is_receiver else "-"
        vs = st.spans_per_s / base.spans_per_s if base.spans_per_s else float("nan")
        return (
            f"| {label} | {st.spans_per_s:,.0f} | {st.requests_per_s:.1f} | {ms(st, 50)} |"
            f" {ms(st, 99)} | {refused} | {vs:.2f} | {us} | {cores} |"
        )

    lines = [
        "| Run | accepted spans/s | requests/s | p50 ms | p99 ms | 429 / 503 / err |"
        " vs baseline | receiver CPU µs/span | CPU cores: receiver / broker / load gen /"
        " other processes |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|",
        row("baseline", f"a. baseline: raw aiokafka, {args.clients} tasks, acks=all +"
            " idempotent, linger 5 ms (the receiver's producer settings)"),
    ]  # fmt: skip
    if "baseline_big" in bench.phases:
        lines.append(row("baseline_big", "a2. what-if: baseline with max_batch_size = 1 MiB"
                         " (aiokafka default: 16 KiB)"))  # fmt: skip
    lines.append(row("max", f"**b. receiver, {args.clients} HTTP clients back to back**"))
    lines.append(row("grpc", f"**b'. receiver, {args.clients} concurrent OTLP/gRPC calls"
                     " back to back (one channel)**"))  # fmt: skip
    half_rate = half.ok / half.elapsed
    lines.append(row("half", f"c. receiver, open loop at half of b ({half_rate:.1f}"
                     f" req/s; latency from the scheduled send time; sender at most"
                     f" {1000 * half.behind_max:.0f} ms late)"))  # fmt: skip
    if "saturation" in bench.phases:
        n = args.saturation_clients
        lines.append(row("saturation", f"b2. receiver, {n} HTTP clients back to back"))
    p99 = 1000 * percentile(top.latencies, 99)
    verdict_rate = "met" if top.spans_per_s >= TARGET_SPANS else "MISSED"
    verdict_p99 = "met" if p99 < TARGET_P99_MS else "MISSED"
    d = bench.durability
    out = [
        f"Command: `.venv/bin/python benchmarks/ingest.py"
        f"{' --quick' if args.quick else ''} --seconds {args.seconds:g} "
        f"--clients {args.clients} --spans-per-request {args.spans_per_request}"
        f"{' --profile' if args.profile else ''}` (total {bench.total_seconds:.0f} s)",
        "",
        f"Machine: {os.cpu_count()} cores (`nproc` = {os.cpu_count()}), "
        f"{_cpu_model()}, Python {platform.python_version()}, Kafka {DEFAULT_KAFKA_VERSION} "
        f"(local single-node KRaft broker, 1 GB heap), {dt.date.today().isoformat()}. "
        "Broker, receiver and load generator share these cores; other processes used "
        f"{bench.background:.2f} cores just before the runs (the last CPU column shows "
        "them during each run).",
        "",
        f"Requests: protobuf `ExportTraceServiceRequest`, {args.spans_per_request} spans over "
        f"{bench.traces_per_request} traces, {bench.body_bytes / 1024:.0f} KB "
        f"({bench.body_bytes / args.spans_per_request:.0f} B/span, GenAI semconv + "
        f"OpenInference attributes), fresh trace ids per request; the receiver publishes "
        f"one message per trace ({bench.message_bytes / 1024:.1f} KB) to a "
        f"{PARTITIONS}-partition topic. {args.seconds:g} s per run after a {WARMUP:g} s "
        "warm-up; CPU is in cores (1.00 = one core busy) over the run.",
        "",
        *lines,
        "",
        f"* Target >= {TARGET_SPANS:,} spans/s accepted durably by one receiver process "
        f"(10x MLflow's ~{MLFLOW_SPANS:,}): **{verdict_rate}** ({top.spans_per_s:,.0f} "
        f"spans/s, {top.spans_per_s / MLFLOW_SPANS:.1f}x MLflow).",
        f"* Target p99 < {TARGET_P99_MS:.0f} ms with {args.clients} concurrent clients "
        f"sending {args.spans_per_request}-span requests: **{verdict_p99}** ({p99:.0f} ms; "
        f"at half rate {ms(half, 99)} ms).",
        f"* Durability: the spans topic holds {d['topic messages (end offsets)']:,} messages "
        f"/ {d['topic spans (decoded)']:,} spans for {d['accepted traces']:,} accepted "
        f"traces / {d['accepted spans']:,} accepted spans (all 200 answers, warm-ups "
        f"included); accepted trace ids missing: {d['accepted trace ids missing']}, "
        f"duplicates: {d['duplicate keys']}, non-200 answers: {d['non-200 answers']} -> "
        f"**{'OK' if d['ok'] else 'FAILED'}**"
        f"{' (exact match)' if d['exact'] else ''}.",
    ]
    if bench.profile is not None:
        p = bench.profile
        out += [
            "",
            f"Receiver profile (py-spy, 100 Hz, {p.seconds} s under the load of b, "
            f"{p.samples:,} samples, {p.idle:.0f}% of them idle in epoll; "
            f"{p.rate_under_profile:,.0f} spans/s while sampled). Shares of the busy "
            "samples; each sample is counted once, in the innermost matching bucket:",
            "",
            "| Work | % of busy samples |",
            "|---|---:|",
            *(f"| {name} | {pct:.1f} |" for name, pct in p.buckets),
            "",
            "Inclusive (anywhere on the stack):",
            "",
            "| Code | % of busy samples |",
            "|---|---:|",
            *(f"| {MARKS[k]} (`{k}`) | {v:.1f} |" for k, v in p.marks.items()),
            "",
            "Hottest functions (self = innermost frame, total = anywhere on the stack):",
            "",
            "| Function | self % | total % |",
            "|---|---:|---:|",
            *(f"| `{name}` | {s:.1f} | {t:.1f} |" for name, s, t in p.rows),
        ]
    return "\n".join(out)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_doc(section_body: str) -> None:
    """Put the results between the markers of our section; append the section if missing.

    The file is re-read right before writing (others edit other sections of it).
    """
    generated = f"{BEGIN}\n{section_body}\n{END}"
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = head + generated + tail
    elif HEADING in text:
        head, rest = text.split(HEADING, 1)
        new = head + HEADING + "\n\n" + generated + "\n" + rest
    else:
        new = text.rstrip("\n") + f"\n\n{HEADING}\n\n{generated}\n"
    current = DOC.read_text() if DOC.exists() else "# Performance\n"
    if current != text:  # changed while we worked: start over on the new text
        return write_doc(section_body)
    DOC.write_text(new)
