"""The ``evalstream`` command: the one place that wires schemas, evaluators and pipeline.

User mistakes (bad file, bad config, no broker) print one red line and exit 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress

from evaluators.exceptions import EvaluatorError
from pipeline.alerts_cli import alerts_command
from pipeline.backfill_cli import backfill_command
from pipeline.broker_cli import broker_app
from pipeline.evaluators_cli import config_app, evaluators_app
from pipeline.exceptions import PipelineError
from pipeline.maintenance_cli import compact_command, retention_command
from pipeline.report import report
from pipeline.settings import load_settings
from pipeline.tools.ui.cli import register as register_ui_commands
from schemas.exceptions import SchemaError

app = typer.Typer(
    help="Streaming quality evaluation of LLM application traces on Apache Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(broker_app, name="broker")
app.add_typer(evaluators_app, name="evaluators")
app.add_typer(config_app, name="config")
app.command("report")(report)
app.command("retention")(retention_command)
app.command("compact")(compact_command)
app.command("alerts")(alerts_command)
app.command("backfill")(backfill_command)
register_ui_commands(app)
console = Console()
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_state = {"debug": False}


def _version() -> str:
    try:
        return version("evalstream")
    except PackageNotFoundError:  # running from a source tree without install
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        console.print(f"evalstream {_version()}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of errors."),
    _version_flag: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["debug"] = debug


@app.command()
def worker(
    stop_when_idle: float | None = typer.Option(
        None,
        help="Exit 0 after flushing and committing once no message came for this long"
        " (past that, a warning each minute says what keeps it running).",
    ),
    config: Path | None = typer.Option(None, help="Evaluator TOML (env EVALSTREAM_CONFIG)."),
    bootstrap_servers: str | None = typer.Option(None, help="(env EVALSTREAM_BOOTSTRAP_SERVERS)"),
    input_topic: str | None = typer.Option(None, help="(env EVALSTREAM_INPUT_TOPIC)"),
    parquet_dir: Path | None = typer.Option(None, help="(env EVALSTREAM_PARQUET_DIR)"),
    consumer_group: str | None = typer.Option(None, help="(env EVALSTREAM_CONSUMER_GROUP)"),
) -> None:
    """Run a stream worker: score every trace of the input topic.

    Example: [bold]evalstream worker --stop-when-idle 10 --config evalstream.toml[/]
    """
    from evaluators import discover, load_config
    from pipeline.scoring import Scorer
    from pipeline.worker import run_worker

    settings = load_settings(
        config=config,
        bootstrap_servers=bootstrap_servers,
        input_topic=input_topic,
        parquet_dir=parquet_dir,
        consumer_group=consumer_group,
    )
    registry = discover(allow=settings.allowed_plugins)
    for error in registry.errors:
        err_console.print(
            f"[yellow]warning:[/] evaluator plugin {error.name} skipped: {error.reason}"
        )
    scorer = Scorer(load_config(settings.config), registry)
    err_console.print(
        f"worker {settings.worker_id}: {settings.input_topic} -> {settings.scored_topic},"
        f" {settings.metrics_topic}, {settings.dlq_topic}, {settings.parquet_dir};"
        f" evaluators: {', '.join(scorer.evaluator_names)}"
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


@app.command()
def receiver(
    host: str | None = typer.Option(None, help="(env EVALSTREAM_RECEIVER_HOST)"),
    port: int | None = typer.Option(None, help="(env EVALSTREAM_RECEIVER_PORT)"),
) -> None:
    """Run the OTLP/HTTP receiver: POST /v1/traces -> the spans topic.

    Example: [bold]evalstream receiver --host 0.0.0.0 --port 4318[/]
    """
    from pipeline.ingest.otlp_http import receiver_command

    receiver_command(host, port)


@app.command()
def publish(
    files: list[str] = typer.Argument(..., help="JSONL or JSON files; '-' reads stdin."),
    topic: str | None = typer.Option(None, help="Target topic [default: EVALSTREAM_INPUT_TOPIC]."),
    app_name: str | None = typer.Option(
        None, "--app", help="tags.app for traces whose source names no application."
    ),
) -> None:
    """Publish traces from files (ours, or MLflow / Langfuse / OTLP-JSON exports).

    Examples: [bold]evalstream publish traces.jsonl[/]
    [bold]cat t.jsonl | evalstream publish -[/]
    """
    from pipeline.kafka_clients import publish as send_all
    from pipeline.trace_files import read_trace_files

    settings = load_settings()
    target = topic or settings.input_topic
    records = read_trace_files(files, app=app_name)
    with Progress(console=err_console, transient=True) as progress:
        task = progress.add_task(f"publishing to {target}", total=len(records))
        sent = send_all(
            settings,
            target,
            ((r.key, r.value) for r in records),
            on_sent=lambda n: progress.advance(task, n),
        )
    console.print(f"published {sent:,} traces to {target}")


@app.command()
def tail(
    topic: str = typer.Argument(..., help="Topic to read, e.g. scored-traces."),
    n: int = typer.Option(10, "-n", help="Messages per partition to show."),
    from_beginning: bool = typer.Option(False, help="Show every message from the start."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new messages."),
) -> None:
    """Print the last messages of a topic as JSON lines.

    Example: [bold]evalstream tail scored-traces -n 5[/]
    """
    from pipeline.kafka_clients import read_topic

    settings = load_settings()
    last = None if from_beginning else n
    for record in read_topic(settings, topic, last=last, follow=follow):
        try:
            body = orjson.loads(record.value) if record.value is not None else None
        except orjson.JSONDecodeError:
            body = {"raw": record.value.decode("utf-8", "replace")}
        line = {"partition": record.partition, "offset": record.offset, "value": body}
        sys.stdout.write(orjson.dumps(line).decode() + "\n")


@app.command()
def demo(
    traces: int = typer.Option(2000, min=1, help="Sample traces to publish."),
    workdir: Path = typer.Option(Path("demo-output"), help="Where Parquet and broker data go."),
    idle: float = typer.Option(5.0, help="Worker idle time before it stops (seconds)."),
) -> None:
    """Run the whole pipeline locally: broker, sample traces, worker, summary.

    Example: [bold]evalstream demo --traces 5000[/]
    """
    from pipeline.demo import run_demo

    raise typer.Exit(run_demo(traces, workdir, idle, console))


def main() -> None:
    """Console-script entry point with one-line errors for user mistakes."""
    try:
        app()
    except (PipelineError, EvaluatorError, SchemaError) as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)


if __name__ == "__main__":
    main()
