"""``evalstream demo``: the whole pipeline locally (the run is :mod:`pipeline.tools.demo.run`)."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.output import console


def demo_command(
    traces: int = typer.Option(2000, min=1, help="Sample traces to publish."),
    workdir: Path = typer.Option(Path("demo-output"), help="Where Parquet and broker data go."),
    idle: float = typer.Option(5.0, help="Worker idle time before it stops (seconds)."),
) -> None:
    """Run the whole pipeline locally: broker, sample traces, worker, summary.

    Example: [bold]evalstream demo --traces 5000[/]
    """
    from pipeline.tools.demo.run import run_demo

    raise typer.Exit(run_demo(traces, workdir, idle, console))
