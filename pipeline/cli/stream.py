"""``evalstream worker`` and ``evalstream receiver``: the two long-running stream processes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from pipeline.cli.output import err_console
from pipeline.settings import load_settings


def worker_command(
    stop_when_idle: float | None = typer.Option(
        None,
        help="Exit 0 after flushing and committing once no message came for this long"
        " (past that, a warning each minute says what keeps it running).",
    ),
    config: Path | None = typer.Option(None, help="Evaluator TOML (env EVALSTREAM_CONFIG)."),
    bootstrap_servers: str | None = typer.Option(None, help="(env EVALSTREAM_BOOTSTRAP_SERVERS)"),
    input_topic: str | None = typer.Option(None, help="(env EVALSTREAM_INPUT_TOPIC)"),
    parquet_dir: str | None = typer.Option(
        None, help="Local directory or s3:// gs:// abfs:// URI (env EVALSTREAM_PARQUET_DIR)"
    ),
    consumer_group: str | None = typer.Option(None, help="(env EVALSTREAM_CONSUMER_GROUP)"),
) -> None:
    """Run a stream worker: score every trace of the input topic.

    Example: [bold]evalstream worker --stop-when-idle 10 --config evalstream.toml[/]
    """
    from evaluators import discover, load_config
    from pipeline.evaluate.scorer import Scorer
    from pipeline.worker.run import run_worker

    settings = load_settings(
        config=config,
        bootstrap_servers=bootstrap_servers,
        input_topic=input_topic,
        parquet_dir=parquet_dir,
        consumer_group=consumer_group,
    )
    from pipeline.sinks.storage import locate
    from pipeline.worker.runtime import tune_malloc

    # before the evaluators load and the worker's threads start
    tune_malloc(settings.malloc_mmap_threshold_bytes, settings.malloc_arena_max)
    parquet_root = locate(settings.parquet_dir, settings)
    parquet_root.check(writable=True)  # a bad URI or an unreachable store: one line, exit 2
    registry = discover(allow=settings.allowed_plugins)
    for error in registry.errors:
        err_console.print(
            f"[yellow]warning:[/] evaluator plugin {error.name} skipped: {error.reason}"
        )
    scorer = Scorer(
        load_config(settings.config),
        registry,
        processes=settings.evaluator_processes,
        allow=settings.allowed_plugins,
    )
    err_console.print(
        f"worker {settings.worker_id}: {settings.input_topic} -> {settings.scored_topic},"
        f" {settings.metrics_topic}, {settings.dlq_topic}, {parquet_root};"
        f" evaluators: {', '.join(scorer.evaluator_names)}"
        + (
            f"; {len(scorer.pool.pids)} evaluator processes for {', '.join(scorer.pool.names)}"
            if scorer.pool is not None
            else ""
        )
        + (
            f"; sessions -> {settings.scored_sessions_topic} (docs/sessions.md)"
            if settings.sessions_enabled
            else ""
        )
    )
    stats = run_worker(settings, scorer, stop_when_idle=stop_when_idle)
    err_console.print(
        f"consumed {stats.consumed:,}, scored {stats.scored:,},"
        f" dead-lettered {stats.dead_lettered:,}, metrics records {stats.metrics_records:,}"
    )
    # Everything is committed by now. faust can leave its consumer thread running after a
    # rebalance that races the shutdown; it must not keep the process alive.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def receiver_command(
    host: str | None = typer.Option(None, help="(env EVALSTREAM_RECEIVER_HOST)"),
    http_port: int | None = typer.Option(
        None, "--http-port", "--port", help="OTLP/HTTP port, 0 = off (env EVALSTREAM_RECEIVER_PORT)"
    ),
    grpc_port: int | None = typer.Option(
        None, help="OTLP/gRPC port, 0 = off (env EVALSTREAM_RECEIVER_GRPC_PORT)"
    ),
) -> None:
    """Run the OTLP receiver: gRPC TraceService/Export and HTTP POST /v1/traces -> spans topic.

    Example: [bold]evalstream receiver --host 0.0.0.0 --grpc-port 4317 --http-port 4318[/]
    """
    from pipeline.ingest.receiver.server import receiver_command as serve_receiver

    serve_receiver(host, http_port, grpc_port)  # a port in use: one line, exit 2 (main)
