"""The numbers behind ``evalstream report``, computed with pandas from the Parquet dataset.

Kept apart from the HTML so each aggregation can be checked on its own, and so the report
reads only the columns it plots (a month of data is many rows x evaluators).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.exceptions import PipelineError
from pipeline.sinks.dataset import Root
from pipeline.sinks.delta_table import is_delta_table, open_table
from pipeline.sinks.storage import locate

COLUMNS = [
    "trace_id", "timestamp", "app", "status", "latency_ms", "input_tokens", "output_tokens",
    "cost_usd", "evaluator", "score", "passed", "label", "rationale", "error", "eval_latency_ms",
    "kafka_topic", "kafka_partition", "kafka_offset",
]  # fmt: skip
BUCKETS = (
    ("1min", 60), ("5min", 300), ("15min", 900), ("1h", 3600), ("6h", 21600), ("1D", 86400),
)  # fmt: skip
PERCENTILES = (50, 90, 95, 99)


class ReportError(PipelineError):
    """The Parquet directory cannot be reported on (missing, empty, not evalstream data)."""


def load(parquet_dir: Root) -> pd.DataFrame:
    """The results rows of a dataset root: a local directory or an object store prefix."""
    root = locate(parquet_dir)
    if not root.is_local:
        root.check()  # an unreachable store or a missing bucket: one line
    elif not root.is_dir():
        raise ReportError(f"{parquet_dir}: not a directory")
    if is_delta_table(root):
        return _deduplicated(_read_delta(root), parquet_dir)
    if not any(info.path.endswith(".parquet") for info in root.listing()):
        raise ReportError(f"{parquet_dir}: no .parquet files (has a worker flushed yet?)")
    try:
        frame = pd.read_parquet(root.path, filesystem=root.fs, columns=COLUMNS)
    except Exception as exc:  # pyarrow raises many types for foreign files
        raise ReportError(f"{parquet_dir}: not an evalstream dataset: {exc}") from None
    return _deduplicated(frame, parquet_dir)


def _read_delta(root: Root) -> pd.DataFrame:
    """The current version of a Delta results table (``EVALSTREAM_TABLE_FORMAT=delta``)."""
    try:
        dataset = open_table(root).to_pyarrow_dataset()
        return dataset.to_table(columns=COLUMNS).to_pandas()
    except PipelineError as exc:
        raise ReportError(str(exc)) from None
    except Exception as exc:  # a column missing: not the results table
        raise ReportError(f"{root}: not an evalstream results table: {exc}") from None


def _deduplicated(frame: pd.DataFrame, parquet_dir: Root) -> pd.DataFrame:
    if frame.empty:
        raise ReportError(f"{parquet_dir}: the dataset has no rows")
    # Replays rewrite the same offsets: keep one row per source message and evaluator.
    frame = frame.drop_duplicates(
        ["kafka_topic", "kafka_partition", "kafka_offset", "evaluator", "trace_id", "label"]
    )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def bucket_for(frame: pd.DataFrame, points: int = 40) -> tuple[str, int]:
    """The smallest time bucket giving at most ``points`` points over the data's time span."""
    span = (frame["timestamp"].max() - frame["timestamp"].min()).total_seconds()
    for rule, seconds in BUCKETS:
        if span / seconds <= points:
            return rule, seconds
    return BUCKETS[-1]


def _epoch(index: pd.Index) -> np.ndarray:
    return pd.DatetimeIndex(index).as_unit("s").asi8.astype(float)


def time_series(values: pd.Series, stamps: pd.Series, rule: str, how: str) -> list[tuple]:
    """(epoch seconds, aggregate) per bucket, empty buckets left out."""
    grouped = values.groupby(stamps.dt.floor(rule))
    agg = getattr(grouped, how)() if how != "rate" else grouped.mean()
    agg = agg.dropna()
    return list(zip(_epoch(agg.index), agg.astype(float).to_numpy(), strict=True))


@dataclass(frozen=True)
class Traces:
    """One row per trace (the dataset repeats trace columns once per evaluator)."""

    frame: pd.DataFrame

    @classmethod
    def of(cls, rows: pd.DataFrame) -> Traces:
        cols = ["trace_id", "timestamp", "app", "status", "latency_ms", "input_tokens",
                "output_tokens", "cost_usd"]  # fmt: skip
        return cls(rows[cols].drop_duplicates("trace_id"))

    def latency_percentiles(self) -> dict[int, float]:
        values = self.frame["latency_ms"].dropna()
        if values.empty:
            return {}
        return {p: float(np.percentile(values, p)) for p in PERCENTILES}


def pass_rate_over_time(rows: pd.DataFrame, rule: str) -> dict[str, list[tuple]]:
    judged = rows[rows["passed"].notna() & rows["error"].isna()]
    return {
        name: time_series(group["passed"].astype(float), group["timestamp"], rule, "rate")
        for name, group in judged.groupby("evaluator", sort=True)
    }


def score_histograms(rows: pd.DataFrame, bins: int = 10) -> dict[str, list[int]]:
    """Counts of scores in ``bins`` equal bins over [0, 1] per evaluator."""
    edges = np.linspace(0, 1, bins + 1)
    out = {}
    for name, group in rows.groupby("evaluator", sort=True):
        scores = group["score"].dropna().clip(0, 1)
        if not scores.empty:
            out[name] = np.histogram(scores, bins=edges)[0].tolist()
    return out


def latency_histogram(latency_ms: pd.Series, bins: int = 30) -> tuple[list[float], list[int]]:
    """Bins up to the 99.5th percentile so one outlier does not squash the shape."""
    values = latency_ms.dropna()
    if values.empty:
        return [0.0, 1.0], [0]
    top = float(np.percentile(values, 99.5)) or float(values.max()) or 1.0
    counts, edges = np.histogram(values.clip(upper=top), bins=bins, range=(0, top))
    return edges.tolist(), counts.tolist()


def evaluator_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per evaluator: evaluations, pass rate, mean score, error rate, latency p50/p95."""
    grouped = rows.groupby("evaluator", sort=True)
    summary = pd.DataFrame(
        {
            "evaluations": grouped.size(),
            "pass_rate": grouped["passed"].apply(lambda s: s.dropna().astype(float).mean()),
            "mean_score": grouped["score"].mean(),
            "error_rate": grouped["error"].apply(lambda s: s.notna().mean()),
            "p50_ms": grouped["eval_latency_ms"].quantile(0.5),
            "p95_ms": grouped["eval_latency_ms"].quantile(0.95),
        }
    )
    return summary


def worst(rows: pd.DataFrame, limit: int = 25) -> pd.DataFrame:
    """Traces with the most failed (or errored) evaluations, lowest score first.

    One line per trace, so a single systematic failure (say, every ERROR trace failing the
    ``error`` evaluator) does not push every other problem off the list.
    """
    bad = rows[(rows["passed"] == False) | rows["error"].notna()].copy()  # noqa: E712
    if bad.empty:
        return bad.assign(failures=[], evaluators=[], why=[])
    bad["why"] = bad["error"].where(bad["error"].notna(), bad["rationale"]).fillna("")
    bad["what"] = bad["evaluator"] + ": " + bad["why"].astype(str)
    bad = bad.sort_values(["score", "timestamp"], na_position="last")
    grouped = bad.groupby("trace_id", sort=False)
    out = pd.DataFrame(
        {
            "timestamp": grouped["timestamp"].first(),
            "failures": grouped.size(),
            "score": grouped["score"].min(),
            "evaluators": grouped["evaluator"].agg(lambda s: ", ".join(sorted(set(s)))),
            "why": grouped["what"].agg(lambda s: " · ".join(s.head(3))),
        }
    ).reset_index()
    out = out.sort_values(["failures", "score", "timestamp"], ascending=[False, True, True])
    return out.head(limit)
