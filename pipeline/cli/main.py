"""The ``evalstream`` command: the one place that wires schemas, evaluators and pipeline.

User mistakes (bad file, bad config, no broker) print one red line and exit 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import typer
from rich.markup import escape

from evaluators.exceptions import EvaluatorError
from pipeline.cli.alerts import alerts_command
from pipeline.cli.backfill import backfill_command
from pipeline.cli.broker import broker_app
from pipeline.cli.demo import demo_command
from pipeline.cli.evaluators import config_app, evaluators_app
from pipeline.cli.maintenance import compact_command, retention_command
from pipeline.cli.output import console, err_console
from pipeline.cli.report import report
from pipeline.cli.storage import storage_app
from pipeline.cli.stream import receiver_command, worker_command
from pipeline.cli.topics import publish_command, tail_command
from pipeline.cli.ui import register as register_ui_commands
from pipeline.exceptions import PipelineError
from schemas.exceptions import SchemaError

app = typer.Typer(
    help="Streaming quality evaluation of LLM application traces on Apache Kafka.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(broker_app, name="broker")
app.add_typer(storage_app, name="storage")
app.add_typer(evaluators_app, name="evaluators")
app.add_typer(config_app, name="config")
app.command("report")(report)
app.command("retention")(retention_command)
app.command("compact")(compact_command)
app.command("alerts")(alerts_command)
app.command("backfill")(backfill_command)
app.command("worker")(worker_command)
app.command("receiver")(receiver_command)
app.command("publish")(publish_command)
app.command("tail")(tail_command)
app.command("demo")(demo_command)
register_ui_commands(app)
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
