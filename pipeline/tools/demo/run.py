"""``evalstream demo``: the whole flow on this machine in one command.

Starts a broker if none answers, publishes bundled sample traces plus a few malformed
messages, runs a real worker process until idle, prints what landed where, and stops what
it started.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
from pydantic import SecretStr
from rich.console import Console

from pipeline.exceptions import PipelineError
from pipeline.kafka.broker import BrokerHandle, is_reachable, start_broker, stop_broker
from pipeline.kafka.clients import ensure_topics, publish, read_topic
from pipeline.settings import ENV_PREFIX, Settings, load_settings
from pipeline.tools.demo.samples import sample_traces
from pipeline.tools.demo.summary import evaluator_table, load_dataset, operational_table

MALFORMED = [
    b"{this is not json",
    b'{"inputs": "a trace without trace_id"}',
    b'{"trace_id": 42, "latency_ms": "fast"}',
    b"\xff\xfe\x00 not utf-8",
]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that hands ``settings`` to a child process."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is not None:
            env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
    return env


def _broker(settings: Settings, workdir: Path, console: Console) -> BrokerHandle | None:
    if is_reachable(settings.bootstrap_servers):
        console.print(f"Using the Kafka broker at [bold]{settings.bootstrap_servers}[/]")
        return None
    data_dir = workdir / "kafka"
    shutil.rmtree(data_dir, ignore_errors=True)
    with console.status("Starting a local Apache Kafka broker (first run fetches its jars)..."):
        handle = start_broker(data_dir=data_dir)
    console.print(f"Started Kafka at [bold]{handle.bootstrap}[/] (data in {data_dir})")
    return handle


def run_demo(traces: int, workdir: Path, idle_seconds: float, console: Console) -> int:
    settings = load_settings()
    handle = _broker(settings, workdir, console)
    try:
        run = time.strftime("%Y%m%d-%H%M%S")
        overrides = {
            "input_topic": f"demo-{run}.traces",
            "scored_topic": f"demo-{run}.scored-traces",
            "session_turns_topic": f"demo-{run}.session-turns",
            "scored_sessions_topic": f"demo-{run}.scored-sessions",
            "metrics_topic": f"demo-{run}.trace-metrics",
            "dlq_topic": f"demo-{run}.traces.dlq",
            "consumer_group": f"evalstream-demo-{run}",
            "parquet_dir": str(workdir / "parquet"),  # a path or URI string (settings)
        }
        if handle is not None:
            overrides["bootstrap_servers"] = handle.bootstrap
        settings = settings.model_copy(update=overrides)
        shutil.rmtree(settings.parquet_dir, ignore_errors=True)
        topics = [settings.input_topic, settings.scored_topic]
        ensure_topics(settings, [*topics, settings.metrics_topic, settings.dlq_topic], 2)

        items = [
            (t["trace_id"].encode(), orjson.dumps(t))
            for t in sample_traces(traces, spread_seconds=900, spans=True)
        ]
        items += [(None, raw) for raw in MALFORMED]
        sent = publish(settings, settings.input_topic, items)
        console.print(
            f"Published {sent:,} messages ({traces:,} traces, {len(MALFORMED)} malformed)"
            f" to [bold]{settings.input_topic}[/]"
        )
        console.print(f"Running a worker until it has been idle for {idle_seconds:g} s...")
        code = subprocess.call(
            [sys.executable, "-m", "pipeline.cli", "worker", "--stop-when-idle", str(idle_seconds)],
            env=settings_env(settings),
        )
        if code != 0:
            raise PipelineError(f"the worker exited with code {code}")
        _report(settings, console)
    finally:
        if handle is not None:
            stop_broker(handle)
            console.print("Stopped the broker the demo started.")
    return 0


def _report(settings: Settings, console: Console) -> None:
    frame = load_dataset(settings.parquet_dir)
    if frame.empty:
        raise PipelineError(f"no Parquet rows under {settings.parquet_dir}")
    console.print(evaluator_table(frame))
    console.print(operational_table(frame))
    dead = list(read_topic(settings, settings.dlq_topic))
    windows = list(read_topic(settings, settings.metrics_topic))
    scored = sum(1 for _ in read_topic(settings, settings.scored_topic))
    console.print(f"Scored-traces topic [bold]{settings.scored_topic}[/]: {scored:,} messages")
    console.print(f"Metrics topic [bold]{settings.metrics_topic}[/]: {len(windows)} window records")
    console.print(f"Dead-letter topic [bold]{settings.dlq_topic}[/]: {len(dead)} messages")
    for record in dead:
        body = orjson.loads(record.value)
        console.print(f"  offset {body['source_offset']}: {body['reason']}", highlight=False)
    console.print(
        f"Parquet dataset: [bold]{Path(settings.parquet_dir).resolve()}[/]"
        f" ({len(frame):,} rows; read it with pandas.read_parquet or DuckDB)"
    )
    console.print(f"Browse it: [bold]evalstream ui --data-dir {settings.parquet_dir}[/]")
