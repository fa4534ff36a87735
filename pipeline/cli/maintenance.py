"""``evalstream retention`` and ``evalstream compact``: keep the Parquet datasets tidy.

Both work on the results dataset (``--parquet-dir``) and on the traces and spans datasets
beside it when they exist (``sinks.dataset.dataset_roots``), each under its own lock. A root
that is a Delta table (``EVALSTREAM_TABLE_FORMAT=delta``) gets Delta's OPTIMIZE, DELETE and
VACUUM instead (:mod:`pipeline.tools.maintenance.delta`).

Mounted as top-level commands by ``pipeline.cli.main``. Mistakes (a bad duration, a missing
directory, another run holding the lock) print one red line and exit 2.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from pipeline.clock import parse_time
from pipeline.exceptions import PipelineError
from pipeline.settings import load_settings
from pipeline.sinks.dataset import RESULTS, DatasetKind, dataset_roots
from pipeline.sinks.delta_table import is_delta_table
from pipeline.sinks.storage import Location, locate
from pipeline.tools.maintenance import apply_retention, compact, parse_duration
from pipeline.tools.maintenance.delta import (
    DeltaCompactReport,
    DeltaRetentionReport,
    compact_delta,
    retention_delta,
)

ParquetDirOption = typer.Option(
    None,
    "--parquet-dir",
    help="Root of the Parquet dataset: a directory or s3:// gs:// abfs:// URI"
    " (env EVALSTREAM_PARQUET_DIR).",
)
DryRunOption = typer.Option(False, "--dry-run", help="Show what would change; change nothing.")
NowOption = typer.Option(
    None,
    "--now",
    help="Judge ages against this time (ISO-8601, UTC) instead of the clock: reproducible runs.",
)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _fail(exc: Exception) -> typer.Exit:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    err.print(f"[bold red]error:[/] {escape(str(exc))}")
    return typer.Exit(code=2)


def _roots(parquet_dir: str | None) -> list[tuple[DatasetKind, Location]]:
    """The results root (always: a missing one is an error) and the other datasets' roots
    that exist; a local directory or an object store prefix."""
    settings = load_settings()
    root = locate(parquet_dir if parquet_dir is not None else settings.parquet_dir, settings)
    try:
        roots = dataset_roots(root)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    root.check()  # a bad URI or an unreachable store: one line
    return [(kind, path) for kind, path in roots.items() if kind is RESULTS or path.is_dir()]


def retention_command(
    older_than: str = typer.Option(
        ..., "--older-than", help="Delete hours that ended longer ago than this: 30d, 12h, 90m."
    ),
    dry_run: bool = DryRunOption,
    parquet_dir: str | None = ParquetDirOption,
    now: str | None = NowOption,
) -> None:
    """Delete whole hour partitions older than a cutoff (by directory name, in UTC).

    The current hour is never touched; date directories left empty go too.

    Example: [bold]evalstream retention --older-than 30d --dry-run[/]
    """
    console = Console(highlight=False, soft_wrap=True)
    try:
        age = parse_duration(older_than)
        at = parse_time(now) if now else None
        reports = [
            (
                kind,
                retention_delta(root, age, now=at, dry_run=dry_run)
                if is_delta_table(root)
                else apply_retention(root, age, now=at, dry_run=dry_run),
            )
            for kind, root in _roots(parquet_dir)
        ]
    except PipelineError as exc:
        raise _fail(exc) from None
    verb = "would delete" if dry_run else "deleted"
    for kind, report in reports:
        if isinstance(report, DeltaRetentionReport):
            _print_lines(console, report.lines(kind.name))
        else:
            _print_retention(console, kind, report, verb)


def _print_lines(console: Console, lines: list[str]) -> None:
    for line in lines:
        console.print(escape(line))


def _print_retention(console: Console, kind: DatasetKind, report: Any, verb: str) -> None:
    for hour in report.hours:
        note = f" (kept {len(hour.kept)} in-progress file(s))" if hour.kept else ""
        console.print(f"{verb} {hour.path}: {hour.files} file(s), {_size(hour.bytes)}{note}")
    console.print(
        f"{kind.name}: {verb} {len(report.hours)} partition(s), {report.files} file(s),"
        f" {_size(report.bytes)} ({report.bytes:,} bytes) older than"
        f" {report.cutoff:%Y-%m-%d %H:%M} UTC"
    )


def compact_command(
    parquet_dir: str | None = ParquetDirOption,
    min_age: str = typer.Option(
        "2h", "--min-age", help="Only hours that ended, and files written, this long ago."
    ),
    tail_window: str | None = typer.Option(
        None,
        "--tail-window",
        help="A partition's files written this long before its newest are its tail (maybe"
        " not committed yet) and left alone; default: the min age.",
    ),
    dry_run: bool = DryRunOption,
    now: str | None = NowOption,
) -> None:
    """Merge the small files of closed hours into one file per topic-partition, and heal
    files whose offset ranges overlap (a zombie worker's) into one holding each row once.

    Safe beside running workers; a re-run after a crash finishes the job.

    Example: [bold]evalstream compact --min-age 2h --dry-run[/]
    """
    console = Console(highlight=False, soft_wrap=True)
    try:
        age = parse_duration(min_age)
        window = parse_duration(tail_window) if tail_window else None
        at = parse_time(now) if now else None
        reports = [
            (
                kind,
                compact_delta(root, age, now=at, dry_run=dry_run)
                if is_delta_table(root)
                else compact(root, age, now=at, dry_run=dry_run, kind=kind, tail_window=window),
            )
            for kind, root in _roots(parquet_dir)
        ]
    except PipelineError as exc:
        raise _fail(exc) from None
    for kind, report in reports:
        if isinstance(report, DeltaCompactReport):
            _print_lines(console, report.lines(kind.name))
        else:
            _print_compaction(console, kind, report)


def _print_compaction(console: Console, kind: DatasetKind, report: Any) -> None:
    dry_run = report.dry_run
    remove, merge_verb = ("would remove", "would merge") if dry_run else ("removed", "merged")
    for path in report.recovered:
        console.print(f"{remove} {path} (its rows are in a merged file)")
    for merge in report.merges:
        console.print(
            f"{merge_verb} {len(merge.inputs)} files -> {merge.output} ({merge.rows:,} rows)"
        )
    heal_verb = "would heal" if dry_run else "healed"
    for heal in report.heals:
        console.print(
            f"{heal_verb} {len(heal.inputs)} files with overlapping offsets -> {heal.output}"
            f" ({heal.rows:,} rows; dropped {heal.duplicates_dropped:,} duplicate rows)"
        )
    for path, reason in report.skipped:
        console.print(f"[yellow]skipped[/] {escape(str(path))}: {escape(reason)}")
    if (idle := report.idle_reason()) is not None:
        console.print(escape(idle))
    console.print(
        f"{kind.name}: {merge_verb} {report.files_merged} file(s) into {len(report.merges)};"
        f" {remove} {len(report.recovered)} leftover file(s);"
        + (
            f" {heal_verb} {len(report.heals)} overlap(s), dropping"
            f" {report.duplicates_dropped:,} duplicate row(s);"
            if report.heals
            else ""
        )
        + f" {len(report.skipped)} skipped"
    )
