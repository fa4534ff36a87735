"""``evalstream publish`` and ``evalstream tail``: write trace files to a topic, read a topic."""

from __future__ import annotations

import sys

import orjson
import typer
from rich.progress import Progress

from pipeline.cli.output import console, err_console
from pipeline.settings import load_settings


def publish_command(
    files: list[str] = typer.Argument(..., help="JSONL or JSON files; '-' reads stdin."),
    topic: str | None = typer.Option(
        None, help="Target topic \\[default: EVALSTREAM_INPUT_TOPIC]."
    ),
    app_name: str | None = typer.Option(
        None, "--app", help="tags.app for traces whose source names no application."
    ),
) -> None:
    """Publish traces from files (ours, or MLflow / Langfuse / OTLP-JSON exports).

    Examples: [bold]evalstream publish traces.jsonl[/]
    [bold]cat t.jsonl | evalstream publish -[/]
    """
    from pipeline.ingest.files.trace_files import read_trace_files
    from pipeline.kafka.clients import publish as send_all

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


def tail_command(
    topic: str = typer.Argument(..., help="Topic to read, e.g. scored-traces."),
    n: int = typer.Option(10, "-n", help="Messages per partition to show."),
    from_beginning: bool = typer.Option(False, help="Show every message from the start."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new messages."),
) -> None:
    """Print the last messages of a topic as JSON lines.

    Example: [bold]evalstream tail scored-traces -n 5[/]
    """
    from pipeline.kafka.clients import read_topic

    settings = load_settings()
    last = None if from_beginning else n
    for record in read_topic(settings, topic, last=last, follow=follow):
        try:
            body = orjson.loads(record.value) if record.value is not None else None
        except orjson.JSONDecodeError:
            body = {"raw": record.value.decode("utf-8", "replace")}
        line = {"partition": record.partition, "offset": record.offset, "value": body}
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
