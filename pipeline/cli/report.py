"""``evalstream report``: the command; the page is built by :mod:`pipeline.tools.report`."""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.tools.report import report_command


def report(
    parquet_dir: Path = typer.Argument(..., help="Root of the Parquet dataset (date=/hour=)."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
) -> None:
    """Write a self-contained HTML report (plots, worst traces) of a Parquet dataset.

    Example: [bold]evalstream report evalstream-data/parquet -o report.html[/]
    """
    report_command(parquet_dir, output)
    typer.echo(f"wrote {output}")
