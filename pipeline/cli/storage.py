"""``evalstream storage start|stop|status``: a local S3-compatible server (S3Proxy).

All three default to the same data dir (``~/.cache/evalstream/storage``), whose
``storage.json`` / ``storage.pid`` let ``stop`` and ``status`` find the server ``start`` left
running. ``start`` and ``status`` print one line that a shell can split:
``endpoint=http://127.0.0.1:P bucket=NAME access_key=K secret_key=S``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipeline.objectstore import (
    DEFAULT_BUCKET,
    default_data_dir,
    start_storage,
    stop_storage,
    storage_status,
)

storage_app = typer.Typer(
    help="Run a local S3-compatible object store (S3Proxy) for development and tests.",
    no_args_is_help=True,
)

DataDirOption = typer.Option(
    None,
    "--data-dir",
    help="Server data dir (objects, config, log, pid and state files).",
    show_default="~/.cache/evalstream/storage",
)


@storage_app.command()
def start(
    port: int | None = typer.Option(
        None, "--port", "-p", help="Port on 127.0.0.1 \\[default: the last one, else free]."
    ),
    data_dir: Path | None = DataDirOption,
    bucket: str = typer.Option(DEFAULT_BUCKET, help="Bucket created at start."),
    timeout: float = typer.Option(90, help="Seconds to wait for the server to answer."),
) -> None:
    """Start the server in the background; print its endpoint, bucket and keys on one line.

    Fetches S3Proxy's jars from Maven Central on first use; objects survive restarts.

    Example: [bold]evalstream storage start --port 9000[/], then
    AWS_ENDPOINT_URL=http://127.0.0.1:9000 ... EVALSTREAM_PARQUET_DIR=s3://evalstream/parquet
    """
    data_dir = data_dir or default_data_dir()
    running = storage_status(data_dir)
    if running is not None:
        typer.echo(f"storage already running from {data_dir} (pid {running.pid})", err=True)
        typer.echo(running.line())
        return
    handle = start_storage(port=port, data_dir=data_dir, bucket=bucket, timeout=timeout)
    typer.echo(handle.line())


@storage_app.command()
def stop(data_dir: Path | None = DataDirOption) -> None:
    """Stop the server started from the data dir (SIGTERM, then SIGKILL).

    Example: [bold]evalstream storage stop[/]
    """
    data_dir = data_dir or default_data_dir()
    running = storage_status(data_dir)
    if running is None or not stop_storage(data_dir):
        typer.echo(f"no storage server running from {data_dir}")
        return
    typer.echo(f"stopped storage server (pid {running.pid}, {running.endpoint})")


@storage_app.command()
def status(data_dir: Path | None = DataDirOption) -> None:
    """Print the running server's line; exit code 0 if it runs, 1 if not.

    Example: [bold]evalstream storage status || evalstream storage start[/]
    """
    data_dir = data_dir or default_data_dir()
    running = storage_status(data_dir)
    if running is None:
        typer.echo(f"not running (data dir {data_dir})")
        raise typer.Exit(code=1)
    typer.echo(running.line())
