"""``evalstream backfill``: re-score a topic range or JSONL files into a Parquet dataset, or
into Delta tables (``EVALSTREAM_TABLE_FORMAT=delta``, or a root that is a Delta table).

Mistakes (unreadable file, unknown evaluator, bad time, missing topic) print one red line
and exit 2, like every other command. Bad messages are not fatal: they are counted and
listed, and sent to the dead-letter topic only with ``--dlq`` (a re-run sends them again).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from evaluators.exceptions import EvaluatorError
from pipeline.clock import parse_time
from pipeline.exceptions import PipelineError
from pipeline.settings import Settings, load_settings
from pipeline.sinks.delta_table import is_delta_table
from pipeline.sinks.encode import RecordEncoder
from pipeline.sinks.storage import Location, locate
from pipeline.tools.backfill import (
    BackfillReport,
    backfill_config,
    file_chunks,
    load_backfill_config,
    run_backfill,
    topic_chunks,
)

SHOWN_BAD = 20


def _default_dir(settings: Settings) -> Location:
    """A data directory of its own next to the worker's (``<data>/backfill/parquet``, with its
    ``traces``/``spans`` beside it), not inside the worker's datasets: re-scored rows would
    double theirs. ``evalstream ui --data-dir <data>/backfill/parquet`` opens it."""
    return locate(settings.parquet_dir, settings).parent / "backfill" / "parquet"


def _send_dead_letters(settings: Settings, encoder: RecordEncoder, report: BackfillReport) -> int:
    from pipeline.decode.trace import DecodeError
    from pipeline.kafka.clients import publish

    letters = [
        encoder.dead_letter(
            DecodeError(bad.reason, "backfill"),
            bad.raw,
            bad.key,
            topic=bad.source,
            partition=bad.partition,
            offset=bad.offset,
        )
        for bad in report.bad
    ]
    return publish(settings, settings.dlq_topic, ((None, body) for body in letters))


def backfill_command(
    from_topic: str | None = typer.Option(None, "--from-topic", help="Topic to re-score."),
    from_files: list[Path] | None = typer.Option(
        None, "--from-files", help="JSONL trace files to re-score (repeat the option)."
    ),
    start_time: str | None = typer.Option(None, help="First record time (ISO-8601, UTC)."),
    start_offset: int | None = typer.Option(None, min=0, help="First offset, every partition."),
    end_time: str | None = typer.Option(None, help="Stop before this record time (ISO-8601)."),
    config: Path | None = typer.Option(None, help="Evaluator TOML (env EVALSTREAM_CONFIG)."),
    evaluators: str | None = typer.Option(
        None, help="Comma-separated evaluator names to run instead of the configured set."
    ),
    parquet_dir: str | None = typer.Option(
        None,
        help="Output dataset, a directory or s3:// gs:// abfs:// URI"
        " \\[default: <EVALSTREAM_PARQUET_DIR>/../backfill/parquet].",
    ),
    chunk_size: int = typer.Option(5000, min=1, help="Offsets (or lines) per output file."),
    dlq: bool = typer.Option(False, "--dlq", help="Also send bad messages to the DLQ topic."),
) -> None:
    """Re-score history with chosen evaluators into Parquet or Delta; safe to run again.

    Examples: [bold]evalstream backfill --from-topic traces --start-time 2026-11-25T00:00[/]
    [bold]evalstream backfill --from-files old.jsonl --evaluators safety,correctness[/]
    """
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        report, root, delta = _run(
            from_topic, from_files, start_time, start_offset, end_time,
            config, evaluators, parquet_dir, chunk_size, dlq, err,
        )  # fmt: skip
    except (PipelineError, EvaluatorError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None
    for bad in report.bad[:SHOWN_BAD]:
        err.print(f"[yellow]bad message[/] {escape(bad.where)}: {escape(bad.reason)}")
    if report.bad_count > SHOWN_BAD:
        err.print(f"... and {report.bad_count - SHOWN_BAD} more bad messages")
    for path in report.overlapping:
        err.print(f"[yellow]warning:[/] {path} overlaps this range only in part; rows may repeat")
    if delta:
        print(
            f"backfill: read {report.read:,}, scored {report.scored:,}, bad {report.bad_count:,};"
            f" wrote {report.rows:,} rows in {report.commits} Delta commits to {root} (each"
            " chunk replaced its earlier rows)"
        )
        return
    results = [path for path in report.files if path.is_relative_to(root)]
    beside = len(report.files) - len(results)
    replaced = sum(path.is_relative_to(root) for path in report.replaced)
    print(
        f"backfill: read {report.read:,}, scored {report.scored:,}, bad {report.bad_count:,};"
        f" wrote {report.rows:,} rows in {len(results)} files under {root}"
        + (f" (+{beside} files in the traces/spans datasets beside it)" if beside else "")
        + f" (replaced {replaced} older files)"
    )


def _run(
    from_topic, from_files, start_time, start_offset, end_time,
    config, evaluators, parquet_dir, chunk_size, dlq, err,
) -> tuple[BackfillReport, Location, bool]:  # fmt: skip
    from evaluators import discover
    from pipeline.evaluate.scorer import Scorer

    if (from_topic is None) == (not from_files):
        raise PipelineError("give exactly one of --from-topic or --from-files")
    if from_files and (start_time or start_offset is not None or end_time):
        raise PipelineError("--start-time/--start-offset/--end-time apply to --from-topic only")
    if start_time and start_offset is not None:
        raise PipelineError("give --start-time or --start-offset, not both")
    start = parse_time(start_time) if start_time else None
    end = parse_time(end_time) if end_time else None
    settings = load_settings(config=config, parquet_dir=parquet_dir)
    root = locate(parquet_dir, settings) if parquet_dir else _default_dir(settings)
    delta = settings.table_format == "delta" or is_delta_table(root)
    root.check(writable=True)  # a bad URI or an unreachable store: one line, before scoring
    names = [n.strip() for n in evaluators.split(",") if n.strip()] if evaluators else None
    evaluator_config = backfill_config(load_backfill_config(settings.config), names)
    encoder = RecordEncoder.create(settings)
    scorer = Scorer(evaluator_config, discover(allow=settings.allowed_plugins))
    try:
        if from_files:
            total, chunks = file_chunks(from_files, chunk_size)
        else:
            total, chunks = topic_chunks(
                settings,
                from_topic,
                start_offset=start_offset,
                start_time=start,
                end_time=end,
                chunk_size=chunk_size,
            )
        err.print(f"backfill: {total:,} messages; evaluators: {', '.join(scorer.evaluator_names)}")
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("re-scoring", total=total)
            report = run_backfill(
                scorer,
                chunks,
                root,
                encoder,
                on_progress=lambda n: progress.advance(task, n),
                delta=delta,
            )
    finally:
        scorer.close()
    if dlq and report.bad:
        sent = _send_dead_letters(settings, encoder, report)
        err.print(f"sent {sent} bad messages to {settings.dlq_topic}")
    return report, root, delta
