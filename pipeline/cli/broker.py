"""``evalstream broker start|stop|status``: manage the local single-node Kafka broker.

All three commands default to the same data dir (``~/.cache/evalstream/broker``), whose
``broker.json`` / ``broker.pid`` let ``stop`` and ``status`` find the broker ``start`` left
running in the background.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.kafka.broker import BrokerError, broker_status, start_broker, stop_broker
from pipeline.kafka.broker.config import default_cli_data_dir

broker_app = typer.Typer(
    help="Run a local single-node Apache Kafka broker (KRaft) for development and tests.",
    no_args_is_help=True,
)

DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Broker data dir (config, logs, pid and state files).",
    show_default="~/.cache/evalstream/broker",
)


def _fail(error: BrokerError) -> typer.Exit:
    """Print *error* (first line red, details dim) to stderr and return exit code 2."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    first, _, rest = str(error).partition("\n")
    console.print(f"[bold red]error:[/] [red]{escape(first)}[/]")
    if rest:
        console.print(f"[dim]{escape(rest)}[/]")
    return typer.Exit(code=2)


@broker_app.command()
def start(
    port: int = typer.Option(9092, "--port", "-p", help="PLAINTEXT listener port."),
    data_dir: Path | None = DataDirOption,
    timeout: float = typer.Option(60, help="Seconds to wait for the broker to answer."),
    heap: str = typer.Option("512m", help="JVM max heap (-Xmx)."),
) -> None:
    """Start the broker in the background and print `bootstrap=127.0.0.1:PORT`.

    Fetches the Kafka jars with Maven on first use; topics survive restarts on the same dir.

    Example: export KAFKA=$(evalstream broker start --port 9092 | cut -d= -f2)
    """
    data_dir = data_dir or default_cli_data_dir()
    try:
        info = broker_status(data_dir)
        if info and info["running"]:
            typer.echo(f"broker already running from {data_dir} (pid {info['pid']})", err=True)
            typer.echo(f"bootstrap={info['bootstrap']}")
            return
        handle = start_broker(port=port, data_dir=data_dir, timeout=timeout, heap=heap)
    except BrokerError as error:
        raise _fail(error) from None
    typer.echo(f"bootstrap={handle.bootstrap}")


@broker_app.command()
def stop(
    data_dir: Path | None = DataDirOption,
    timeout: float = typer.Option(30, help="Seconds to wait before SIGKILL."),
) -> None:
    """Stop the broker started from the data dir (SIGTERM, SIGKILL after --timeout).

    Example: evalstream broker stop --data-dir ~/.cache/evalstream/broker
    """
    data_dir = data_dir or default_cli_data_dir()
    try:
        info = broker_status(data_dir)
        if not info or not info["running"]:
            typer.echo(f"no broker running from {data_dir}")
            return
        stop_broker(data_dir, timeout=timeout)
    except BrokerError as error:
        raise _fail(error) from None
    typer.echo(f"stopped broker (pid {info['pid']}, {info['bootstrap']})")


@broker_app.command()
def status(data_dir: Path | None = DataDirOption) -> None:
    """Show whether the broker is running; exit code 0 if it is, 1 if not.

    Example: evalstream broker status || evalstream broker start
    """
    data_dir = data_dir or default_cli_data_dir()
    try:
        info = broker_status(data_dir)
    except BrokerError as error:
        raise _fail(error) from None
    if not info or not info["running"]:
        typer.echo(f"not running (data dir {data_dir})")
        raise typer.Exit(code=1)
    typer.echo(f"running pid={info['pid']} bootstrap={info['bootstrap']} data_dir={data_dir}")
