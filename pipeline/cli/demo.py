"""``evalstream demo``: the whole pipeline locally (the run is :mod:`pipeline.tools.demo.run`)."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.cli.output import console


def demo_command(
    traces: int = typer.Option(2000, min=1, help="Sample traces to publish."),
    workdir: Path = typer.Option(Path("demo-output"), help="Where Parquet and broker data go."),
    idle: float = typer.Option(5.0, help="Worker idle time before it stops (seconds)."),
    ui: bool = typer.Option(
        False, "--ui", help="Then keep serving the web UI on the demo's data (Ctrl-C stops)."
    ),
) -> None:
    """Run the whole pipeline locally: broker, sample traces, worker, summary.

    Example: [bold]evalstream demo --traces 5000 --ui[/]
    """
    from pipeline.tools.demo.run import run_demo

    code = run_demo(traces, workdir, idle, console)
    if code == 0 and ui:
        from pipeline.cli.ui import ui as serve_ui

        serve_ui(data_dir=workdir / "parquet", host=None, port=None)
    raise typer.Exit(code)
