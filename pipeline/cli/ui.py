"""``evalstream ui`` and ``evalstream trace show``: the commands; the app is
:mod:`pipeline.tools.ui`.

Heavy imports (DuckDB, Starlette, uvicorn) happen inside the commands, so ``evalstream
--help`` stays fast. Errors are ``UIError`` (a ``PipelineError``): one red line, exit 2.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from pipeline.tools.ui.exceptions import UIError

if TYPE_CHECKING:
    from pipeline.sinks.storage import Location

trace_app = typer.Typer(help="Look at one stored trace.", no_args_is_help=True)


def _results_dir(data_dir: str | None) -> Location:
    """The results dataset: a local directory, or an object store prefix that answers."""
    from pipeline.settings import load_settings
    from pipeline.sinks.storage import locate

    settings = load_settings()
    directory = locate(data_dir or settings.parquet_dir, settings)
    if not directory.is_local:
        directory.check()  # an unreachable store or a missing bucket: one line
    elif not directory.is_dir():
        raise UIError(
            f"{directory} is not a directory: point --data-dir (or EVALSTREAM_PARQUET_DIR) at"
            " the worker's Parquet directory"
        )
    return directory


def ui(
    data_dir: str | None = typer.Option(
        None,
        help="Results dataset, a directory or s3:// gs:// abfs:// URI (traces/ and spans/ are"
        " its siblings)"
        " \\[default: EVALSTREAM_PARQUET_DIR]",
    ),
    host: str | None = typer.Option(None, help="Bind address (env EVALSTREAM_UI_HOST)."),
    port: int | None = typer.Option(None, help="Port (env EVALSTREAM_UI_PORT)."),
) -> None:
    """Browse results, traces and spans in a local web app (read-only).

    Example: [bold]evalstream ui --data-dir demo-output/parquet[/]
    """
    import threading

    import uvicorn
    from rich.console import Console

    from pipeline.tools.ui.app import app_for, warm_up
    from pipeline.tools.ui.settings import UISettings

    settings = UISettings()
    directory = _results_dir(data_dir)
    token = settings.token.get_secret_value() if settings.token else None
    app = app_for(directory, token=token, threads=settings.duckdb_threads)
    bind_host, bind_port = host or settings.host, settings.port if port is None else port
    err = Console(stderr=True, highlight=False)
    store = app.state.store
    stored = "stored" if store.available("traces") else "not stored (results only)"
    err.print(f"evalstream UI on [bold]http://{bind_host}:{bind_port}[/] over {directory}")
    err.print(f"  results: {len(store.files('results'))} files; trace content: {stored}")
    if bind_host not in ("127.0.0.1", "localhost", "::1") and not token:
        err.print("[yellow]warning:[/] listening beyond this machine without EVALSTREAM_UI_TOKEN")
    threading.Thread(
        target=warm_up, args=(store, app.state.warmed_up), name="ui-warm-up", daemon=True
    ).start()
    uvicorn.run(app, host=bind_host, port=bind_port, log_level="warning")


@trace_app.command("show")
def show(
    trace_id: str = typer.Argument(..., help="The trace id."),
    data_dir: str | None = typer.Option(
        None, help="Results dataset, a directory or URI \\[default: EVALSTREAM_PARQUET_DIR]"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the API's JSON instead."),
    version: int | None = typer.Option(None, min=1, help="A trace version \\[default: latest]."),
) -> None:
    """Print one stored trace: content, results, spans.

    Example: [bold]evalstream trace show tr-7-0000042 --data-dir demo-output/parquet[/]
    """
    from rich.console import Console

    from pipeline.tools.ui.layout import Datasets
    from pipeline.tools.ui.store import Store
    from pipeline.tools.ui.terminal import render_trace
    from pipeline.tools.ui.trace_detail import dump_json, load_trace

    store = Store(Datasets.beside(_results_dir(data_dir)))
    try:
        detail = load_trace(store, trace_id, version)
    finally:
        store.close()
    if as_json:
        sys.stdout.write(dump_json(detail, indent=True).decode() + "\n")
    else:
        render_trace(detail, Console())


def register(app: typer.Typer) -> None:
    """Adds ``ui`` and ``trace show`` to the ``evalstream`` command."""
    app.command("ui")(ui)
    app.add_typer(trace_app, name="trace")
