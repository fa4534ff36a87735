"""``evalstream report``: the command; the page is built by :mod:`pipeline.tools.report`."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    parquet_dir: str = typer.Argument(
        ..., help="Root of the Parquet dataset (date=/hour=): a directory or s3:// gs:// abfs://."
    ),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write."),
) -> None:
    """Write a self-contained HTML report (plots, worst traces) of a Parquet dataset.

    Example: [bold]evalstream report evalstream-data/parquet -o report.html[/]
    [bold]evalstream report s3://bucket/evalstream/parquet[/] (AWS_* / EVALSTREAM_S3_* settings)
    """
    from pipeline.settings import load_settings
    from pipeline.sinks.storage import locate
    from pipeline.tools.report import report_command  # pandas: kept out of the worker's imports

    report_command(locate(parquet_dir, load_settings()), output)
    typer.echo(f"wrote {output}")
