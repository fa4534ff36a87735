"""Summaries of a Parquet dataset for people: the demo's tables, ``evalstream worker`` output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.table import Table

from schemas import NOT_APPLICABLE


def load_dataset(parquet_dir: Path) -> pd.DataFrame:
    """The whole dataset with pandas alone, as any downstream user would read it."""
    if not Path(parquet_dir).exists() or not any(Path(parquet_dir).rglob("*.parquet")):
        return pd.DataFrame()
    return pd.read_parquet(parquet_dir)


def evaluator_table(frame: pd.DataFrame) -> Table:
    table = Table(title="Evaluators")
    for column in ("evaluator", "rows", "scored", "mean score", "pass rate", "n/a", "errors"):
        table.add_column(column, justify="left" if column == "evaluator" else "right")
    for name, group in frame.groupby("evaluator", sort=True):
        scored = group["score"].notna()
        judged = group["passed"].dropna()
        table.add_row(
            str(name),
            f"{len(group):,}",
            f"{int(scored.sum()):,}",
            f"{group.loc[scored, 'score'].mean():.3f}" if scored.any() else "-",
            f"{judged.astype(bool).mean():.1%}" if len(judged) else "-",
            f"{int((group['label'] == NOT_APPLICABLE).sum()):,}",
            f"{int(group['error'].notna().sum()):,}",
        )
    return table


def operational_table(frame: pd.DataFrame) -> Table:
    traces = frame.drop_duplicates("trace_id")
    latency = traces["latency_ms"].dropna()
    table = Table(title="Operational metrics (per trace)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("traces", f"{len(traces):,}"),
        ("apps", ", ".join(sorted(traces["app"].unique()))),
        ("error rate", f"{(traces['status'] == 'ERROR').mean():.1%}"),
    ]
    if len(latency):
        p50, p95, p99 = latency.quantile([0.5, 0.95, 0.99])
        rows.append(("latency p50 / p95 / p99", f"{p50:,.0f} / {p95:,.0f} / {p99:,.0f} ms"))
    rows += [
        ("input tokens", f"{int(traces['input_tokens'].fillna(0).sum()):,}"),
        ("output tokens", f"{int(traces['output_tokens'].fillna(0).sum()):,}"),
        ("cost", f"${traces['cost_usd'].fillna(0).sum():,.4f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
